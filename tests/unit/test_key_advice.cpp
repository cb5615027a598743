// key_problem_report: where a key is configured, what is wrong, and how to fix it, for the
// failures the integration tests cannot provoke as root (a file genqd's user may not read).
#include <doctest/doctest.h>

#include "core/key_advice.hpp"

using genq::Error;
using genq::KeyConfig;

TEST_SUITE("key advice") {
    TEST_CASE("an unreadable key file: chown to genqd's user, or a credential") {
        KeyConfig key{"main", KeyConfig::Source::file, "/etc/genq/main.key", 1,
                      "/etc/genq/genq.toml:7: keys[0].file"};
        auto text = genq::key_problem_report(
            key, Error{"key_unreadable",
                       "key \"main\": cannot read file /etc/genq/main.key: Permission denied"});
        CHECK(text.find("/etc/genq/genq.toml:7: keys[0].file: key \"main\": cannot read") == 0);
        CHECK(text.find("; to fix: genqd runs as ") != std::string::npos);
        CHECK(text.find("chmod 600 /etc/genq/main.key") != std::string::npos);
        CHECK(text.find("LoadCredential=main:/etc/genq/main.key") != std::string::npos);
    }

    TEST_CASE("every failure of every source comes with a fix") {
        for (auto source : {KeyConfig::Source::file, KeyConfig::Source::env,
                            KeyConfig::Source::credential})
            for (const char* code : {"key_missing", "key_not_file", "key_unreadable", "key_empty",
                                     "key_malformed", "key_env_unset", "key_no_credentials"}) {
                CAPTURE(code);
                KeyConfig key{"k", source, "REF", 1, "f.toml:3: keys[0].x"};
                auto text = genq::key_problem_report(key, Error{code, "key \"k\": broken"});
                CHECK(text.find("f.toml:3: keys[0].x: key \"k\": broken; to fix: ") == 0);
                CHECK(text.size() > std::string("f.toml:3: keys[0].x: key \"k\": broken; to fix: ")
                                        .size() + 20);
            }
    }
}
