// The [store] table (SPEC §2, §11): a PostgreSQL URL without a password, a node name, a lease;
// empty = the embedded SQLite store.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "core/config.hpp"
#include "temp_dir.hpp"

namespace {

genq::ConfigLoad parse(const std::string& text) {
    return genq::parse_config(text, "/etc/genq/genq.toml", {{"HOME", "/home/u"}});
}

bool has_problem(const genq::ConfigLoad& load, const std::string& key, const std::string& text) {
    for (const auto& p : load.problems)
        if (p.key == key && p.reason.find(text) != std::string::npos) return true;
    return false;
}

bool mentions(const genq::ConfigLoad& load, const std::string& text) {
    for (const auto& p : load.problems)
        if (p.to_string().find(text) != std::string::npos) return true;
    return false;
}

}  // namespace

TEST_SUITE("store config") {
    TEST_CASE("no [store]: the embedded store, the host name as the node") {
        auto load = parse("");
        REQUIRE(load.problems.empty());
        CHECK_FALSE(load.config.store.shared());
        CHECK(load.config.store.node == genq::host_name());
        CHECK(load.config.store.lease == 30);
    }

    TEST_CASE("a URI or key=value string, a node name, a lease, a password file") {
        auto load = parse(
            "[store]\nurl = \"postgresql://genq@db1:5432/genq\"\nnode = \"node-a.1\"\n"
            "lease = 12.5\npassword_file = \"pg.pass\"\n");
        REQUIRE_MESSAGE(load.problems.empty(), load.problems[0].to_string());
        CHECK(load.config.store.shared());
        CHECK(load.config.store.node == "node-a.1");
        CHECK(load.config.store.lease == 12.5);
        CHECK(load.config.store.password_file == "/etc/genq/pg.pass");
        CHECK(parse("[store]\nurl = \"host=db1 port=5433 dbname=genq user=genq\"\n")
                  .problems.empty());
    }

    TEST_CASE("a password in the URL is refused without echoing it") {
        for (const char* url : {"postgresql://genq:s3cret@db1/genq",
                                "postgres://db1/genq?sslmode=require&password=s3cret",
                                "host=db1 password = s3cret dbname=genq"}) {
            auto load = parse(std::string("[store]\nurl = \"") + url + "\"\n");
            CHECK_MESSAGE(has_problem(load, "store.url", "must not contain a password"), url);
            CHECK_FALSE(mentions(load, "s3cret"));
        }
        // "password" inside another word is not the keyword.
        CHECK(parse("[store]\nurl = \"host=db1 dbname=nopassword=x\"\n").problems.empty());
    }

    TEST_CASE("bad values name the key and what is allowed") {
        auto load = parse("[store]\nurl = \"mysql://db1\"\nnode = \"a b\"\nlease = 0\nleese = 3\n");
        CHECK(has_problem(load, "store.url", "PostgreSQL URI"));
        CHECK(has_problem(load, "store.node", "letters, digits"));
        CHECK(has_problem(load, "store.lease", ">= 1"));
        CHECK(has_problem(load, "store.leese", "did you mean \"lease\""));
    }

    TEST_CASE("the password file is read like a key file, trimmed; a missing one is named") {
        genq::test::TempDir dir("genq-pgpass");
        std::string file = dir.write("pgpass", "pw-123\n");
        genq::StoreConfig st;
        st.password_file = file;
        auto pw = genq::load_store_password(st);
        REQUIRE(pw.ok());
        CHECK(*pw == "pw-123");
        std::remove(file.c_str());
        auto missing = genq::load_store_password(st);
        REQUIRE_FALSE(missing.ok());
        CHECK(missing.error().message.find("store.password_file") != std::string::npos);
        CHECK(genq::load_store_password(genq::StoreConfig{}).value().empty());
    }
}
