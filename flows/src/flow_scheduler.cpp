// Many flows, one timer queue (see flow_scheduler.hpp).
#include <latchkey/flows/flow_scheduler.hpp>

#include <algorithm>

namespace latchkey::flows {

bool flow_scheduler::later(const timer_entry& a, const timer_entry& b) noexcept {
    if (a.deadline != b.deadline) return a.deadline > b.deadline;
    return a.sequence > b.sequence;
}

flow_id flow_scheduler::add(std::unique_ptr<flow> f) {
    std::uint32_t index;
    if (!free_.empty()) {
        index = free_.back();
        free_.pop_back();
    } else {
        index = static_cast<std::uint32_t>(slots_.size());
        slots_.emplace_back();
    }
    slot& s = slots_[index];
    s.machine = std::move(f);
    ++live_;
    const flow_id id{index, s.generation};
    ready_.push_back(ready_flow{id, true, {}});
    return id;
}

bool flow_scheduler::live(flow_id id) const noexcept {
    return id.index < slots_.size() && slots_[id.index].generation == id.generation &&
           slots_[id.index].machine;
}

std::vector<flow_id> flow_scheduler::live_ids() const {
    std::vector<flow_id> ids;
    ids.reserve(live_);
    for (std::uint32_t i = 0; i < slots_.size(); ++i)
        if (slots_[i].machine) ids.push_back(flow_id{i, slots_[i].generation});
    return ids;
}

bool flow_scheduler::cancel(flow_id id) {
    if (!live(id)) return false;
    release(id.index);  // its timer or ready entry stays behind, stale, and is skipped
    return true;
}

void flow_scheduler::release(std::uint32_t index) {
    slot& s = slots_[index];
    s.machine.reset();
    ++s.generation;
    free_.push_back(index);
    --live_;
}

void flow_scheduler::fire_due(time_point now) {
    while (!timers_.empty() && timers_.front().deadline <= now) {
        std::pop_heap(timers_.begin(), timers_.end(), later);
        const timer_entry e = timers_.back();
        timers_.pop_back();
        if (live(e.id)) ready_.push_back(ready_flow{e.id, false, e.deadline});
    }
}

std::optional<time_point> flow_scheduler::next_deadline() {
    while (!timers_.empty() && !live(timers_.front().id)) {
        std::pop_heap(timers_.begin(), timers_.end(), later);
        timers_.pop_back();
    }
    if (timers_.empty()) return std::nullopt;
    return timers_.front().deadline;
}

std::optional<flow_scheduler::ready_flow> flow_scheduler::take_ready() {
    while (!ready_.empty()) {
        const ready_flow r = ready_.front();
        ready_.pop_front();
        if (live(r.id)) return r;
    }
    return std::nullopt;
}

action flow_scheduler::step(flow_id id, const event& ev) {
    if (!live(id))
        return make_failed(client_errc::flow_finished, "this flow already ended");
    action a = slots_[id.index].machine->next(ev);
    if (auto* w = std::get_if<wait_until>(&a)) {
        timers_.push_back(timer_entry{w->deadline, sequence_++, id});
        std::push_heap(timers_.begin(), timers_.end(), later);
    } else if (std::holds_alternative<await_callback>(a)) {
        // A browser flow needs a callback listener per flow; this driver has none.
        release(id.index);
        return make_failed(client_errc::bad_input,
                           "a multiplexed driver runs device-style flows only (no callback)");
    } else if (std::holds_alternative<done>(a) || std::holds_alternative<failed>(a)) {
        release(id.index);
    }
    return a;
}

}  // namespace latchkey::flows
