// The CLI as a user meets it (issue 22): one rule per table, each row a
// command line a user typed. Addresses and numbers are refused at the
// shared parsing layer with one line naming the problem (exit 2), outputs
// never print nonsense, every --help teaches its exit codes, the session
// commands share their limits, a pinned server key that does not match
// says so, IPv6 servers need no --local, and SIGINT/SIGTERM end every
// long-running command the same way: the report so far, the result event,
// exit 130.
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "../support/run_command.hpp"
#include "cli_processes.hpp"

namespace {

using namespace std::chrono_literals;
using natpunch::cli_test::Process;
using natpunch::cli_test::Rendezvous;

// A key nobody registers: connect and learn then wait for their peer.
const std::string kAbsentKey(64, 'a');

struct Ran {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string temp_path(const std::string& name) {
  static int counter = 0;
  return testing::TempDir() + "natpunch-user-cli-" + std::to_string(getpid()) + "-" + std::to_string(counter++) + "-" +
         name;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// `natpunch ARGS` (through the shell, bounded by `timeout`): exit code,
// stdout and stderr.
Ran natpunch(const std::string& args, int timeout_s = 20) {
  const auto err = temp_path("stderr");
  auto r = natpunch::test_support::run_command("timeout " + std::to_string(timeout_s) + " " + NATPUNCH_BINARY + " " +
                                               args + " 2>" + err);
  Ran ran{r.exit_code, r.output, slurp(err)};
  std::filesystem::remove(err);
  return ran;
}

// ------------------------------------------------------------- addresses

struct RefusedCase {
  const char* args;
  const char* says;  // the stderr must contain this
};

class CliAddresses : public testing::TestWithParam<RefusedCase> {};

// A malformed address is a bad command line (exit 2) with its real reason,
// found without DNS and without sending anything.
TEST_P(CliAddresses, AreRefusedWithTheirRealReason) {
  const auto r = natpunch(GetParam().args, 15);
  EXPECT_EQ(r.exit_code, 2) << GetParam().args << "\n" << r.err;
  EXPECT_NE(r.err.find(GetParam().says), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("resolve"), std::string::npos) << "never reported as an unresolvable name: " << r.err;
}

INSTANTIATE_TEST_SUITE_P(
    Table, CliAddresses,
    testing::Values(RefusedCase{"stun [::1]:99999", "bad port"}, RefusedCase{"stun 999.1.1.1", "not an IPv4 address"},
                    RefusedCase{"stun 127.0.0.1:0 --rc 1 --rto 20 --rm 1", "bad port"},
                    RefusedCase{"nat-type 127.0.0.1:0 --rc 1 --rto 20 --rm 1", "bad port"},
                    RefusedCase{"stun 127.0.0.1 --local 0.0.0.0", "no port"},
                    RefusedCase{"stun 127.0.0.1 --local '[::1]:70000'", "bad port"},
                    RefusedCase{"measure timeouts 127.0.0.1:0", "bad port"},
                    RefusedCase{"measure mtu 300.1.2.3", "not an IPv4 address"},
                    RefusedCase{"connect --rendezvous 127.0.0.1:0 --peer aaaa --wait 1", "bad port"},
                    RefusedCase{"listen --rendezvous '[::1]:99999' --accept-any --wait 1", "bad port"},
                    RefusedCase{"learn --rendezvous 999.1.1.1 --peers x,y", "not an IPv4 address"},
                    RefusedCase{"stun-server --listen '[::1]:99999'", "bad port"},
                    RefusedCase{"measure-server --listen 127.0.0.1 --ports none", "no port"},
                    RefusedCase{"rendezvous --listen nonsense", "no port"}),
    [](const auto& info) { return "case" + std::to_string(info.index); });

// --------------------------------------------------------------- numbers

class CliNumbers : public testing::TestWithParam<RefusedCase> {};

// No natpunch option takes a negative number: "-1" is refused instead of
// wrapping to 2^64 - 1 (--seed) or running with nonsense (--burst -5), and
// range errors fit on a line (CLI11's own printed a 300-digit maximum).
TEST_P(CliNumbers, AreRefusedOnOneLine) {
  const auto r = natpunch(GetParam().args, 5);
  EXPECT_EQ(r.exit_code, 2) << GetParam().args << "\n" << r.err;
  EXPECT_NE(r.err.find(GetParam().says), std::string::npos) << r.err;
  EXPECT_LT(r.err.size(), 200u) << r.err;
}

#define NATD_OK "natd --tun np0 --inside-cidr 100.64.1.0/24 --public-ip 203.0.113.111 --mapping endpoint-independent " \
                "--filtering endpoint-independent --allocator random "
INSTANTIATE_TEST_SUITE_P(
    Table, CliNumbers,
    testing::Values(RefusedCase{"learn --simulate --seed -1 --rounds 1 --quiet", "--seed"},
                    RefusedCase{"simulate matrix --seed -1 --runs 1 --probes 10 --quiet", "--seed"},
                    RefusedCase{NATD_OK "--seed -1", "--seed"},
                    RefusedCase{"connect --rendezvous 127.0.0.1:9 --peer aaaa --probe-budget -1 --wait 1",
                                "--probe-budget"},
                    RefusedCase{"rendezvous --listen 127.0.0.1:0 --burst -5", "--burst"},
                    RefusedCase{"stun-server --listen 127.0.0.1:0 --burst -5", "--burst"},
                    RefusedCase{"measure-server --listen 127.0.0.1:0 --ports none --burst -5", "--burst"},
                    RefusedCase{"stun-server --listen 127.0.0.1:0 --rate -1", "--rate"},
                    RefusedCase{"rendezvous --listen 127.0.0.1:0 --relay-session-bytes-per-s 0", "more than 0"},
                    RefusedCase{"analyze a.csv b.csv --session-gap 0", "--session-gap"},
                    RefusedCase{"measure mappings 127.0.0.1 --out /dev/null --rate -1", "--rate"}),
    [](const auto& info) { return "case" + std::to_string(info.index); });
#undef NATD_OK

// ---------------------------------------------------------------- output

TEST(CliOutput, BirthdayPrintsTinyAndZeroProbabilitiesReadably) {
  const auto tiny = natpunch("birthday --success 1e-300");
  ASSERT_EQ(tiny.exit_code, 0) << tiny.err;
  EXPECT_NE(tiny.out.find("P(success) >= 1e-298 %"), std::string::npos) << tiny.out;
  EXPECT_EQ(tiny.out.find("e-,"), std::string::npos) << "thousands separators inside an exponent: " << tiny.out;
  for (const char* json : {"", " --json"}) {
    const auto none = natpunch(std::string("birthday --probes 0") + json);
    ASSERT_EQ(none.exit_code, 0) << none.err;
    EXPECT_EQ(none.out.find("-0"), std::string::npos) << "a negative zero: " << none.out;
  }
  const auto zero = natpunch("birthday --probes 0 --model classic");
  EXPECT_NE(zero.out.find(" 0 %"), std::string::npos) << zero.out;
}

// A script reading stdout gets one JSON object on failure too, like nat-type.
TEST(CliOutput, StunJsonReportsAFailureAsJson) {
  const auto r = natpunch("stun 127.0.0.1:9 --json --rc 1 --rto 50 --rm 1");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << "stdout: '" << r.out << "'";
  EXPECT_TRUE(j["mapped_address"].is_null());
  EXPECT_EQ(j["error_kind"], "no_answer");
  EXPECT_NE(j["error"].get<std::string>().find("no STUN response"), std::string::npos);
}

// The table names the carriers "KPN", "LycaMobile": those names work too.
TEST(CliOutput, SimulateTakesTheCarrierNamesItPrints) {
  const auto r = natpunch("simulate matrix --carriers KPN,LycaMobile --runs 1 --probes 200 --json --quiet", 60);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  EXPECT_EQ(j["cells"].size(), 3u);
  EXPECT_EQ(j["carriers"][0]["name"], "kpn");
}

// ------------------------------------------------------------------ help

// Every command, nested ones included, as `natpunch ... --help` words.
const std::vector<std::string> kCommands = {
    "stun-server",    "stun",         "nat-type",       "birthday",          "birthday roaming", "simulate matrix",
    "analyze",        "natd",         "measure-server", "measure",           "measure timeouts", "measure mtu",
    "measure mappings", "measure all", "rendezvous",    "listen",            "connect",          "keygen",
    "learn"};

TEST(CliHelp, TheTopLevelSaysWhatTheToolIsForAndEveryExitCode) {
  const auto r = natpunch("--help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* word : {"rendezvous", "listen", "connect", "behind NATs", "130"})
    EXPECT_NE(r.out.find(word), std::string::npos) << word << " missing from:\n" << r.out;
}

TEST(CliHelp, EveryCommandListsItsExitCodes) {
  for (const auto& command : kCommands) {
    const auto r = natpunch(command + " --help");
    EXPECT_EQ(r.exit_code, 0) << command;
    EXPECT_NE(r.out.find("Exit codes:"), std::string::npos) << "natpunch " << command << " --help";
  }
  for (const char* command : {"measure timeouts", "measure mtu", "measure mappings", "measure all"})
    EXPECT_NE(natpunch(std::string(command) + " --help").out.find("Examples:"), std::string::npos) << command;
}

// A profile file a --help names must be one the project ships.
TEST(CliHelp, NamesOnlyProfilesThatExist) {
  const std::regex profile_file(R"(profiles/([A-Za-z0-9_-]+\.json))");
  int named = 0;
  for (const auto& command : kCommands) {
    const auto help = natpunch(command + " --help").out;
    for (std::sregex_iterator it(help.begin(), help.end(), profile_file), end; it != end; ++it) {
      ++named;
      EXPECT_TRUE(std::filesystem::exists(std::string(NATPUNCH_PROFILES_DIR) + "/" + (*it)[1].str()))
          << "natpunch " << command << " --help names " << (*it)[0];
    }
  }
  EXPECT_GT(named, 0);
}

// ------------------------------------------------------------- defaults

// listen/connect and learn --rendezvous run the same session: the same
// option accepts the same values in both (a later, unrelated usage error
// ends each command before it touches the network).
TEST(CliDefaults, SessionOptionsHaveTheSameLimitsEverywhere) {
  const std::string connect = "connect --rendezvous 127.0.0.1:7000 --peer not-a-key ";
  const std::string learn = "learn --rendezvous 127.0.0.1:7000 ";
  for (const auto& command : {connect, learn}) {
    for (const char* accepted : {"--wait 86400", "--wait 1", "--hole-punch-ms 1", "--hole-punch-ms 600000"}) {
      const auto r = natpunch(command + accepted);
      EXPECT_EQ(r.exit_code, 2);
      const std::string option = std::string(accepted).substr(0, std::string(accepted).find(' '));
      EXPECT_EQ(r.err.find(option), std::string::npos) << command << accepted << ": " << r.err;
    }
    for (const char* refused : {"--wait 86401", "--wait 0", "--hole-punch-ms 0"}) {
      const auto r = natpunch(command + refused);
      EXPECT_EQ(r.exit_code, 2);
      const std::string option = std::string(refused).substr(0, std::string(refused).find(' '));
      EXPECT_NE(r.err.find(option), std::string::npos) << command << refused << ": " << r.err;
    }
  }
}

// ---------------------------------------------------------------- IPv6

// An IPv6 server needs no --local '[::]:0': the local family follows it.
TEST(CliIpv6, StunAndNatTypeFollowTheServersFamily) {
  Process server({"stun-server", "--listen", "[::1]:0", "--threads", "1"});
  std::optional<std::string> line;
  for (int i = 0; i < 5 && !(line && line->find("listening on") != std::string::npos); ++i) line = server.read_line(5000ms);
  ASSERT_TRUE(line && line->find("listening on [::1]:") != std::string::npos) << line.value_or("(nothing)");
  const auto address = line->substr(line->find('['), line->find(" (udp)") - line->find('['));
  const auto stun = natpunch("stun " + address + " --json --rc 3 --rto 200");
  ASSERT_EQ(stun.exit_code, 0) << stun.err;
  const auto j = nlohmann::json::parse(stun.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << stun.out;
  EXPECT_EQ(j["mapped_address"].get<std::string>().rfind("[::1]:", 0), 0u) << stun.out;
  const auto type = natpunch("nat-type " + address + " --json --rc 2 --rto 100 --no-hairpin");
  EXPECT_NE(type.exit_code, 2) << type.err;
  EXPECT_EQ(type.err.find("address family"), std::string::npos) << type.err;
  EXPECT_EQ(server.interrupt_and_wait(), 0);
}

// Session ids use all 64 bits; JavaScript's JSON numbers keep 53. The
// rendezvous log (and listen/connect, see ConnectCli) also give the text.
TEST(CliOutput, SessionIdsAreAlsoText) {
  Rendezvous server;
  ASSERT_TRUE(server.ready());
  Process listener({"listen", "--rendezvous", server.address, "--accept-any", "--json", "--wait", "20", "--force-relay"});
  auto identity = listener.read_json(10000ms);
  ASSERT_TRUE(identity && identity->contains("identity"));
  Process connector({"connect", "--rendezvous", server.address, "--peer", (*identity)["identity"].get<std::string>(),
                     "--json", "--wait", "20", "--force-relay"});
  auto created = natpunch::cli_test::read_event(server.process, "session-created", 20000ms);
  ASSERT_TRUE(created);
  EXPECT_EQ((*created)["session_id_text"], std::to_string((*created)["session_id"].get<std::uint64_t>()));
  EXPECT_EQ(connector.wait(20000ms), 0);
  EXPECT_EQ(listener.wait(20000ms), 0);
}

// ----------------------------------------------------------- server key

// A pinned key the server does not have is a possible attack, not a dead
// server: said at once, with its own error kind (the server does answer).
TEST(CliServerKey, AMismatchSaysSoQuickly) {
  Rendezvous server;
  ASSERT_TRUE(server.ready());
  const auto started = std::chrono::steady_clock::now();
  const auto r = natpunch("connect --rendezvous " + server.address + " --peer " + kAbsentKey + " --server-key " +
                          std::string(64, 'b') + " --json --wait 30");
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("server key mismatch"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("attack"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("no answer"), std::string::npos) << r.err;
  EXPECT_LT(took, 8s) << "answered within the 2 s grace, not after the whole registration wait";
  nlohmann::json result;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.value("event", "") == "result") result = j;
  }
  EXPECT_EQ(result.value("error_kind", ""), "server_key_mismatch") << r.out;
}

// --------------------------------------------------------------- signals

// What the test needs around a command: a rendezvous, an identity file.
struct SignalCase {
  const char* name;
  std::vector<std::string> args;  // "{rendezvous}", "{own}", "{own_key}", "{out}" are filled in
  int signal_number = SIGINT;
  bool ignore_sigint = false;  // started as a script's background job
};

class CliSignals : public testing::TestWithParam<SignalCase> {};

// One rule for every long-running command: SIGINT or SIGTERM, wherever the
// command is, ends it with the report so far ("interrupted": true in its
// JSON) and exit 130 -- also when SIGINT was ignored by the parent.
TEST_P(CliSignals, EndWithTheReportSoFarAndExit130) {
  const auto& c = GetParam();
  std::optional<Rendezvous> server;
  const auto own = temp_path("own.key");
  const auto out = temp_path("out.csv");
  std::string own_key;
  std::vector<std::string> args;
  for (auto a : c.args) {
    if (a == "{rendezvous}") {
      server.emplace();
      ASSERT_TRUE(server->ready());
      a = server->address;
    } else if (a == "{own}") {
      a = own;
    } else if (a == "{out}") {
      a = out;
    } else if (a.find("{own_key}") != std::string::npos) {
      const auto keygen = natpunch("keygen --identity " + own);
      ASSERT_EQ(keygen.exit_code, 0);
      own_key = keygen.out.substr(0, 64);
      a.replace(a.find("{own_key}"), 9, own_key);
    }
    args.push_back(a);
  }
  Process command(args, c.ignore_sigint);
  ASSERT_TRUE(command.wait_until_catching(c.signal_number, 10s)) << c.name << ": no handler for the signal";
  std::this_thread::sleep_for(300ms);  // into the waiting / collecting / registering
  command.signal_child(c.signal_number);
  // JSON lines (listen, connect, measure) or one indented object (learn).
  std::string text;
  std::optional<nlohmann::json> report;
  for (int lines = 0; lines < 500 && !report; ++lines) {
    auto line = command.read_line(10000ms);
    if (!line) break;
    text += *line + "\n";
    for (const auto& candidate : {*line, text}) {
      auto j = nlohmann::json::parse(candidate, nullptr, false);
      if (j.is_object() && j.contains("interrupted")) report = j;
    }
  }
  EXPECT_EQ(command.wait(10000ms), 130) << c.name;
  ASSERT_TRUE(report) << c.name << ": no JSON report";
  EXPECT_EQ((*report)["interrupted"], true) << report->dump();
  std::filesystem::remove(own);
  std::filesystem::remove(out);
}

INSTANTIATE_TEST_SUITE_P(
    Commands, CliSignals,
    testing::Values(
        SignalCase{"connect_waiting_for_its_peer",
                   {"connect", "--rendezvous", "{rendezvous}", "--peer", kAbsentKey, "--json", "--wait", "60"}},
        SignalCase{"connect_sigterm",
                   {"connect", "--rendezvous", "{rendezvous}", "--peer", kAbsentKey, "--json", "--wait", "60"},
                   SIGTERM},
        SignalCase{"connect_as_a_background_job",
                   {"connect", "--rendezvous", "{rendezvous}", "--peer", kAbsentKey, "--json", "--wait", "60"},
                   SIGINT,
                   true},
        SignalCase{"listen_waiting_for_a_caller",
                   {"listen", "--rendezvous", "{rendezvous}", "--accept-any", "--json", "--wait", "60"}},
        SignalCase{"listen_serving_until_ctrl_c",
                   {"listen", "--rendezvous", "{rendezvous}", "--accept-any", "--json", "--sessions", "0"}},
        SignalCase{"learn_waiting_for_its_peers",
                   {"learn", "--rendezvous", "{rendezvous}", "--identity", "{own}", "--peers",
                    "{own_key}," + kAbsentKey, "--json", "--quiet", "--wait", "60", "--rounds", "2"}},
        SignalCase{"measure_mappings",
                   {"measure", "mappings", "127.0.0.1", "--count", "100000", "--rate", "5", "--out", "{out}", "--json"}},
        SignalCase{"measure_timeouts", {"measure", "timeouts", "127.0.0.1:9", "--json"}, SIGTERM},
        // Waiting for a STUN answer that does not come (~4.5 s of retransmissions).
        SignalCase{"stun_waiting_for_an_answer", {"stun", "127.0.0.1:9", "--json"}},
        SignalCase{"nat_type_waiting_for_an_answer", {"nat-type", "127.0.0.1:9", "--json"}, SIGTERM},
        // A matrix of minutes: the runs finished so far are the report.
        SignalCase{"simulate_matrix",
                   {"simulate", "matrix", "--carriers", "vodafone,lycamobile", "--runs", "5000", "--threads", "1",
                    "--json", "--quiet"}},
        SignalCase{"simulate_compare_as_a_background_job",
                   {"simulate", "matrix", "--strategy", "compare", "--carriers", "vodafone,lycamobile", "--runs",
                    "5000", "--threads", "1", "--json", "--quiet"},
                   SIGINT,
                   true}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
