// PostgreSQL: the operations added to the storage port while the adapter was being written
// (the admin plugin's update_user, social login, organizations). TEMPORARY stubs that fail
// with storage_failed until they are ported; see pg_store_impl.hpp on how to add one.
#include "pg_store_impl.hpp"

namespace latchkey::transport::server::detail {

using flows::server::server_errc;

namespace {
template <class T>
asio::awaitable<T> not_yet() {
    co_return T(make_error_code(server_errc::storage_failed));
}
asio::awaitable<error_code> not_yet_ec() {
    co_return make_error_code(server_errc::storage_failed);
}
}  // namespace

asio::awaitable<error_code> pg_store::update_user(user_record) { return not_yet_ec(); }
asio::awaitable<error_code> pg_store::put_social_provider(social_provider_record) { return not_yet_ec(); }
asio::awaitable<result<std::vector<social_provider_record>>> pg_store::list_social_providers() {
    return not_yet<result<std::vector<social_provider_record>>>();
}
asio::awaitable<error_code> pg_store::delete_social_provider(std::string) { return not_yet_ec(); }
asio::awaitable<result<account_user>> pg_store::find_account(std::string, std::string) {
    return not_yet<result<account_user>>();
}
asio::awaitable<result<user_record>> pg_store::find_user_by_email(std::string) { return not_yet<result<user_record>>(); }
asio::awaitable<error_code> pg_store::link_account(account_record, std::optional<user_record>) { return not_yet_ec(); }
asio::awaitable<error_code> pg_store::create_organization(organization_record, member_record) { return not_yet_ec(); }
asio::awaitable<error_code> pg_store::update_organization(organization_record) { return not_yet_ec(); }
asio::awaitable<error_code> pg_store::delete_organization(std::string) { return not_yet_ec(); }
asio::awaitable<result<organization_view>> pg_store::find_organization(std::string, bool) {
    return not_yet<result<organization_view>>();
}
asio::awaitable<result<std::vector<organization_record>>> pg_store::list_organizations(std::string) {
    return not_yet<result<std::vector<organization_record>>>();
}
asio::awaitable<result<member_change>> pg_store::change_member(std::string, std::string, std::string) {
    return not_yet<result<member_change>>();
}
asio::awaitable<error_code> pg_store::set_active_organization(std::string, std::string) { return not_yet_ec(); }
asio::awaitable<error_code> pg_store::put_invitation(invitation_record) { return not_yet_ec(); }
asio::awaitable<result<invitation_record>> pg_store::find_invitation(std::string) {
    return not_yet<result<invitation_record>>();
}
asio::awaitable<result<std::vector<invitation_record>>> pg_store::list_invitations(std::string, std::string) {
    return not_yet<result<std::vector<invitation_record>>>();
}
asio::awaitable<result<invitation_answer_result>> pg_store::answer_invitation(std::string, invitation_answer,
                                                                              member_record, std::int64_t) {
    return not_yet<result<invitation_answer_result>>();
}

}  // namespace latchkey::transport::server::detail
