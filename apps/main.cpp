// natpunch: NAT traversal toolkit CLI. One binary, one subcommand per job.
#include <iostream>

#include "cli_checks.hpp"
#include "commands.hpp"
#include "natpunch/version.hpp"

int main(int argc, char** argv) {
  CLI::App app{
      "natpunch — connect two devices that both sit behind NATs (phones on 4G/5G carrier-grade NATs\n"
      "included) directly over UDP: a rendezvous server introduces them, they punch a hole through\n"
      "both NATs (birthday attacks where the NAT picks random ports) or fall back to the server's relay.\n"
      "Main job, three hosts: `natpunch rendezvous` on a public host, `natpunch listen` on one device,\n"
      "`natpunch connect --peer KEY` on the other. Around it: measure a NAT (stun, nat-type, measure),\n"
      "model and simulate carriers (analyze, simulate, birthday, natd) and learn over sessions (learn).\n"
      "Exit codes: 0 ok, 1 no answer / network error / nothing crossed, 2 bad command line or input,\n"
      "130 interrupted (Ctrl-C or SIGTERM; the report so far is printed)."};
  app.set_version_flag("--version", natpunch::kVersionString);
  app.require_subcommand(1);
  app.footer("Run `natpunch SUBCOMMAND --help` for the options and examples of each subcommand.");
  int exit_code = natpunch::cli::kExitOk;
  natpunch::cli::add_stun_server_command(app, exit_code);
  natpunch::cli::add_stun_command(app, exit_code);
  natpunch::cli::add_nat_type_command(app, exit_code);
  natpunch::cli::add_birthday_command(app, exit_code);
  natpunch::cli::add_simulate_command(app, exit_code);
  natpunch::cli::add_analyze_command(app, exit_code);
  natpunch::cli::add_predict_command(app, exit_code);
  natpunch::cli::add_natd_command(app, exit_code);
  natpunch::cli::add_measure_server_command(app, exit_code);
  natpunch::cli::add_measure_command(app, exit_code);
  natpunch::cli::add_rendezvous_command(app, exit_code);
  natpunch::cli::add_connect_commands(app, exit_code);
  natpunch::cli::add_learn_command(app, exit_code);
  natpunch::cli::add_turn_command(app, exit_code);
  natpunch::cli::apply_common_checks(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : natpunch::cli::kExitUsage;
  }
  return exit_code;
}
