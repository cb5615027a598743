// A SQLite database for a unit test: `dir`/genq.db with every migration applied.
#pragma once
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <utility>

#include "store/database.hpp"
#include "store/migrations.hpp"

namespace genq::test {

inline std::unique_ptr<store::Database> open_db(const std::string& dir) {
    auto db = store::Database::open(dir + "/genq.db");
    REQUIRE(db.ok());
    REQUIRE(store::migrate(**db).ok());
    return std::move(db).value();
}

}  // namespace genq::test
