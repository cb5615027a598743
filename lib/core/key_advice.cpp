#include "core/key_advice.hpp"

#include <pwd.h>
#include <unistd.h>

namespace genq {
namespace {

// The user genqd runs as, for "make it readable to USER".
std::string user_name() {
    if (const passwd* pw = ::getpwuid(::geteuid())) return pw->pw_name;
    return "uid " + std::to_string(::geteuid());
}

// Writes a key into FILE without it reaching the shell history or the process list.
std::string write_key(const std::string& file) {
    return "bash -c 'umask 077; read -rs -p \"Stability API key: \" k; printf %s \"$k\" > " +
           file + "'";
}

std::string file_advice(const KeyConfig& key, const std::string& code) {
    const std::string& f = key.ref;
    if (code == "key_missing")
        return "create it with: install -m 600 /dev/null " + f +
               " and put the key in it, e.g. " + write_key(f) +
               "; under systemd prefer credential = (README: Put the API key into a credential)";
    if (code == "key_not_file")
        return "point file = at the file that holds the key, not at a directory (e.g. " + f +
               "/" + key.name + ", made with: install -m 600 /dev/null " + f + "/" + key.name +
               ")";
    if (code == "key_unreadable")
        return "genqd runs as " + user_name() + ": make the file readable to it (chown " +
               user_name() + " " + f + "; chmod 600 " + f +
               "), or under systemd use credential = \"" + key.name + "\" with LoadCredential=" +
               key.name + ":" + f + " (systemctl edit genqd)";
    return "the file must hold the key alone, on one line: rewrite it with " + write_key(f);
}

std::string env_advice(const KeyConfig& key, const std::string& code) {
    std::string fix = "set " + key.ref + " to the key alone in genqd's environment (export " +
                      key.ref + "=sk-...)";
    // The implicit key "default" (no [[keys]] table) has no "keys[N]" origin.
    bool implicit = key.origin.find("keys[") == std::string::npos;
    if (code == "key_env_unset" && implicit)
        return fix + ", or configure a key in a [[keys]] table (file = or credential =; see "
                     "genq.toml(5))";
    if (code == "key_env_unset") return fix + ", or use file = or credential = in its [[keys]] table";
    return fix;
}

std::string credential_advice(const KeyConfig& key, const std::string& code) {
    const std::string stored = "/etc/genq/keys/" + key.ref;
    if (code == "key_no_credentials")
        return "run genqd under systemd with LoadCredential=" + key.ref + ":" + stored +
               " in genqd.service (a drop-in: systemctl edit genqd), or check by hand with: "
               "sudo env CREDENTIALS_DIRECTORY=/etc/genq/keys genqd --check-config";
    if (code == "key_missing")
        return "systemd gave genqd no credential " + key.ref + ": create " + stored +
               " (sudo install -d -m 0700 /etc/genq/keys; sudo install -m 600 /dev/null " +
               stored + "; sudo " + write_key(stored) + ") and name it in the unit with "
               "LoadCredential=" + key.ref + ":" + stored + " (encrypted: systemd-creds "
               "encrypt --name=" + key.ref + " - " + stored + ".cred and "
               "LoadCredentialEncrypted=" + key.ref + ":" + stored + ".cred)";
    if (code == "key_not_file")
        return "LoadCredential=" + key.ref + ": must name a file holding the key, not a directory";
    return "rewrite the file LoadCredential= names (" + stored + ") with the key alone: sudo " +
           write_key(stored);
}

}  // namespace

std::string key_problem_report(const KeyConfig& key, const Error& error) {
    std::string advice;
    switch (key.source) {
        case KeyConfig::Source::file:
            advice = file_advice(key, error.code);
            break;
        case KeyConfig::Source::env:
            advice = env_advice(key, error.code);
            break;
        case KeyConfig::Source::credential:
            advice = credential_advice(key, error.code);
            break;
    }
    std::string where = key.origin.empty() ? "" : key.origin + ": ";
    return where + error.message + "; to fix: " + advice;
}

}  // namespace genq
