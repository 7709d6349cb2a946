// natpunch: NAT traversal toolkit CLI. One binary, one subcommand per job.
#include <iostream>

#include "commands.hpp"
#include "natpunch/version.hpp"

int main(int argc, char** argv) {
  CLI::App app{
      "natpunch — connect devices behind NATs (carrier-grade NATs included).\n"
      "Measure a NAT from behind it, run STUN servers, and classify NAT behaviour.\n"
      "Exit codes: 0 ok, 1 no answer / network error, 2 bad input."};
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
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : natpunch::cli::kExitUsage;
  }
  return exit_code;
}
