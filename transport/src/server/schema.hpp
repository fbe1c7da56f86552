// latch-idp's schema as versioned migrations (schema.cpp), one list for both adapters:
// written in the SQL that SQLite 3.35+ and PostgreSQL 12+ share (TEXT, BIGINT, INTEGER,
// RETURNING, ON CONFLICT). A step whose SQL must differ carries its PostgreSQL text in
// `pg_sql`; the versions stay one contiguous sequence for both.
#pragma once

#include <string>

namespace latchkey::transport::server::detail {

struct migration {
    int version;
    const char* sql;             // SQLite (and PostgreSQL unless pg_sql is set)
    const char* pg_sql = nullptr;  // PostgreSQL, when its dialect needs other SQL
    const char* for_pg() const { return pg_sql ? pg_sql : sql; }
};
const migration* migrations_begin();
const migration* migrations_end();
// Empty when this build can run a database at schema `current`; else why not (a newer
// latch-idp wrote it), for both adapters to report alike.
std::string newer_schema_problem(int current);

}  // namespace latchkey::transport::server::detail
