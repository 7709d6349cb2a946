#pragma once
// coturn (Debian's turnserver) for interop tests: a per-run PKI made with
// the openssl command line (a CA, a server certificate signed by it, and a
// second CA that signed nothing here), and a turnserver.conf with
// use-auth-secret written per run. The loopback CLI tests and the lab
// tests both use it; the caller starts `turnserver -c CONF` its own way.
//
// Safety: the configuration denies relaying to every address except the
// ones a test names (coturn's allowed-peer-ip wins over denied-peer-ip), so
// a wrong --peer can never send traffic out of loopback or the lab.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "run_command.hpp"

namespace natpunch::test_support {

inline bool have_program(const std::string& name) {
  return run_command("command -v " + name + " >/dev/null 2>&1").exit_code == 0;
}
inline bool have_coturn() { return have_program("turnserver") && have_program("turnutils_peer"); }

struct TestPki {
  std::string ca;        // PEM of the CA that signed the server certificate
  std::string other_ca;  // PEM of an unrelated CA
  std::string cert;      // server certificate (SAN: the address and turn.natpunch.test)
  std::string key;
};

// Makes the PKI in `dir` for a server at IP address `address`; nullopt (with
// openssl's output in `error`) when openssl fails.
inline std::optional<TestPki> make_test_pki(const std::string& dir, const std::string& address, std::string& error) {
  TestPki pki{dir + "/ca.pem", dir + "/other-ca.pem", dir + "/server.pem", dir + "/server.key"};
  const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  std::ofstream(dir + "/server.ext") << "subjectAltName=IP:" << address << ",DNS:turn.natpunch.test\n"
                                     << "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n";
  const std::string script =
      "set -e; cd '" + dir + "'; " +                                                                        //
      "openssl req -x509" + ec + " -keyout ca.key -out ca.pem -days 2 -subj '/CN=natpunch test CA'; " +      //
      "openssl req -x509" + ec + " -keyout other-ca.key -out other-ca.pem -days 2 -subj '/CN=other CA'; " +  //
      "openssl req" + ec + " -keyout server.key -out server.csr -subj '/CN=turn.natpunch.test'; " +          //
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 "
      "-extfile server.ext";
  const auto r = run_command("(" + script + ") 2>&1");
  if (r.exit_code != 0) {
    error = r.output;
    return std::nullopt;
  }
  return pki;
}

struct CoturnSettings {
  std::string dir;          // config, pid file and log go here
  std::string address;      // listening and relay address
  std::uint16_t port = 3478;
  std::uint16_t tls_port = 5349;
  std::string secret;       // static-auth-secret
  std::string realm = "natpunch.test";
  std::string allowed_peers;  // "A.B.C.D" or "A.B.C.D-E.F.G.H"
  bool loopback = false;      // allow-loopback-peers
  int user_quota = 0;         // 0: coturn's default (none)
  std::optional<TestPki> pki; // TLS when set
  std::vector<std::string> extra;  // more turnserver.conf lines ("stale-nonce=3")
};

// Writes DIR/turnserver.conf and returns its path.
inline std::string write_coturn_config(const CoturnSettings& s) {
  const std::string path = s.dir + "/turnserver.conf";
  std::ofstream conf(path);
  conf << "listening-ip=" << s.address << "\nrelay-ip=" << s.address << "\nlistening-port=" << s.port
       << "\nrealm=" << s.realm << "\nuse-auth-secret\nstatic-auth-secret=" << s.secret
       << "\nno-cli\nno-dtls\nno-tlsv1\nno-tlsv1_1\nno-rfc5780\nno-stdout-log\nsimple-log\nlog-file=" << s.dir
       << "/turnserver.log\npidfile=" << s.dir << "/turnserver.pid\n"
       << "denied-peer-ip=0.0.0.0-255.255.255.255\ndenied-peer-ip=::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff\n"
       << "allowed-peer-ip=" << s.allowed_peers << "\n";
  if (s.loopback) conf << "allow-loopback-peers\n";
  if (s.user_quota > 0) conf << "user-quota=" << s.user_quota << "\n";
  for (const auto& line : s.extra) conf << line << "\n";
  if (s.pki) {
    conf << "tls-listening-port=" << s.tls_port << "\ncert=" << s.pki->cert << "\npkey=" << s.pki->key << "\n";
  } else {
    conf << "no-tls\n";
  }
  return path;
}

// A random secret for one run.
inline std::string random_secret() {
  std::random_device device;
  std::string out;
  for (int i = 0; i < 24; ++i) out += "abcdefghijklmnopqrstuvwxyz0123456789"[device() % 36];
  return out;
}

// A port free for both UDP and TCP on 127.0.0.1 right now (a race with
// other processes is possible but unlikely in the ephemeral range's gaps).
inline std::uint16_t free_loopback_port() {
  for (int attempt = 0; attempt < 50; ++attempt) {
    const int udp = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (bind(udp, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        getsockname(udp, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      close(udp);
      continue;
    }
    const int tcp = socket(AF_INET, SOCK_STREAM, 0);
    const bool both = bind(tcp, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    close(tcp);
    close(udp);
    if (both) return ntohs(address.sin_port);
  }
  return 0;
}

// Waits until something in the current namespace listens on TCP `port`
// (coturn opens its TCP/TLS listeners last).
inline bool wait_for_tcp_listener(const std::string& prefix, std::uint16_t port) {
  for (int i = 0; i < 100; ++i) {
    if (run_command(prefix + "ss -Hltn 2>/dev/null").output.find(":" + std::to_string(port) + " ") != std::string::npos)
      return true;
    usleep(50 * 1000);
  }
  return false;
}

}  // namespace natpunch::test_support
