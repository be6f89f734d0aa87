// hive-demo-service: runs one service of the demo shop (see demo_service.h).
//
//   hive-demo-service --name orders --listen 127.0.0.1:8081
//       --log-file /tmp/orders.log --config /tmp/orders.json
//       --upstream inventory=http://127.0.0.1:8082 --upstream payments=http://127.0.0.1:8083
//
// Prints "listening on HOST:PORT" on stdout once bound. SIGTERM/SIGINT stop it
// (exit 0); SIGHUP re-reads the config file.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <thread>

#include "demo_service.h"

namespace {

// Signals are taken by one thread with sigwait(); every other thread inherits
// the blocked mask from main(), so no handler runs on an arbitrary thread.
sigset_t HandledSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR1);  // internal: wakes the signal thread when Run() ends
  return set;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hive demo service (gateway, orders, inventory or payments)"};
  std::string name;
  std::string role_name;
  std::string listen = "127.0.0.1:0";
  std::string log_file;
  std::string config_file;
  std::vector<std::string> upstream_flags;
  app.add_option("--name", name, "service name, e.g. orders")->required();
  app.add_option("--role", role_name, "gateway, orders, inventory or payments (default: the name)");
  app.add_option("--listen", listen, "HOST:PORT to serve on; port 0 picks a free one")
      ->capture_default_str();
  app.add_option("--log-file", log_file, "JSON log lines are appended here (default: stdout)");
  app.add_option("--config", config_file, "JSON config file, re-read when it changes");
  app.add_option("--upstream", upstream_flags, "NAME=http://HOST:PORT, repeatable");
  CLI11_PARSE(app, argc, argv);

  hive::demo::ServiceOptions options;
  options.name = name;
  options.log_file = log_file;
  options.config_file = config_file;
  std::string error;
  auto role = hive::demo::ParseRole(role_name.empty() ? name : role_name);
  if (!role) {
    std::cerr << "hive-demo-service: unknown role '" << (role_name.empty() ? name : role_name)
              << "' (want gateway, orders, inventory or payments; use --role)\n";
    return 2;
  }
  options.role = *role;
  if (!hive::demo::ParseListenAddress(listen, &options.host, &options.port, &error)) {
    std::cerr << "hive-demo-service: " << error << "\n";
    return 2;
  }
  for (const std::string& flag : upstream_flags) {
    auto upstream = hive::demo::ParseUpstream(flag, &error);
    if (!upstream) {
      std::cerr << "hive-demo-service: " << error << "\n";
      return 2;
    }
    options.upstreams.push_back(*upstream);
  }

  sigset_t signals = HandledSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto service = hive::demo::DemoService::Create(options, &error);
  if (!service) {
    std::cerr << "hive-demo-service: " << error << "\n";
    return 1;
  }
  std::printf("listening on %s:%d\n", options.host.c_str(), service->port());
  std::fflush(stdout);

  std::thread signal_thread([&] {
    while (true) {
      int signal = 0;
      if (sigwait(&signals, &signal) != 0) continue;
      if (signal == SIGHUP) {
        service->ReloadConfig();
        continue;
      }
      service->Stop();
      return;
    }
  });
  service->Run();
  // Wakes the signal thread if Run() ended without a signal; if it already
  // left, the blocked signal stays pending and is discarded at exit.
  kill(getpid(), SIGUSR1);
  signal_thread.join();
  return 0;
}
