// DemoService is one of the four services of hive's demo shop, played by one
// binary: gateway → orders → {inventory, payments}. It serves JSON over HTTP,
// propagates W3C trace context, writes JSON log lines (business lines plus one
// span line per request and per upstream call) and reads failure_rate /
// latency_ms from a config file. It plays a *user* service: it talks to hive
// only through files and HTTP, never through hive's libraries.
//
// Routes by role (every role also has GET /health, GET /metrics, POST /refresh):
//   gateway    GET /checkout?item=sku-42[&qty=2] (also GET /) → orders /orders
//   orders     GET /orders?item=&qty=  → inventory /reserve, then payments /charge
//   inventory  GET /reserve?item=&qty=
//   payments   GET /charge?order=&amount=[&currency=EUR][&item=]
//
// Thread model: httplib's worker pool serves requests; the ConfigWatcher owns
// one thread; Run() blocks the calling thread. Stop() and ReloadConfig() may be
// called from any thread (e.g. a signal-waiting thread) at any time.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hive::demo {

enum class Role { kGateway, kOrders, kInventory, kPayments };

// "gateway", "orders", "inventory" or "payments".
std::optional<Role> ParseRole(std::string_view name);

// An upstream service by name ("payments") and base URL ("http://127.0.0.1:8083").
struct Upstream {
  std::string name;
  std::string url;
};

// Parses the --upstream flag value "payments=http://127.0.0.1:8083".
std::optional<Upstream> ParseUpstream(std::string_view flag, std::string* error);

// Parses the --listen flag value "127.0.0.1:8081" (port 0 picks a free port).
bool ParseListenAddress(std::string_view flag, std::string* host, int* port, std::string* error);

struct ServiceOptions {
  std::string name;  // service name, e.g. "orders"
  Role role = Role::kGateway;
  std::string host = "127.0.0.1";
  int port = 0;                     // 0: any free port, see DemoService::port()
  std::vector<Upstream> upstreams;  // gateway: orders; orders: inventory and payments
  std::string log_file;             // empty: log to stdout
  std::string config_file;          // empty: no config, defaults apply
};

class DemoService {
 public:
  // Validates the options (the role's upstreams must all be given, no others),
  // opens the log, loads the config and binds the listening socket. Returns
  // nullptr with *error on any failure.
  static std::unique_ptr<DemoService> Create(const ServiceOptions& options, std::string* error);

  ~DemoService();
  DemoService(const DemoService&) = delete;
  DemoService& operator=(const DemoService&) = delete;

  // The bound port (the real one when options.port was 0).
  int port() const;

  // Serves until Stop(); returns at once if Stop() came first.
  void Run();

  // Ends Run(): stops accepting, cuts simulated work short and lets the
  // requests in flight finish. Idempotent.
  void Stop();

  // Re-reads the config file now (SIGHUP, POST /refresh).
  void ReloadConfig();

 private:
  class Impl;
  explicit DemoService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hive::demo
