#include "hive/registry/registry_service.h"

#include <filesystem>
#include <utility>

#include "hive/core/text.h"
#include "http_handlers.h"

namespace hive::registry {

Result<std::unique_ptr<RegistryService>> RegistryService::Open(RegistryOptions options) {
  if (options.reap_interval <= Duration::zero()) {
    return Status::InvalidArgument("reap_interval must be positive, not " +
                                   FormatDuration(options.reap_interval));
  }
  RegistryConfig config;
  config.clock = options.clock;
  config.metrics = options.metrics;
  config.default_ttl = options.default_ttl;
  config.deregister_after = options.deregister_after;
  if (!options.data_dir.empty()) {
    config.db_path = (std::filesystem::path(options.data_dir) / "registry.db").string();
  }
  config.self_preservation_threshold = options.self_preservation_threshold;
  config.self_preservation_window = options.self_preservation_window;
  config.self_preservation_min_instances = options.self_preservation_min_instances;
  auto registry = Registry::Create(std::move(config));
  if (!registry.ok()) return registry.status();
  std::unique_ptr<RegistryService> service(
      new RegistryService(std::move(options), std::move(*registry)));
  service->reaper_ = std::thread([s = service.get()] { s->ReapLoop(); });
  return service;
}

RegistryService::RegistryService(RegistryOptions options, std::unique_ptr<Registry> registry)
    : options_(std::move(options)), registry_(std::move(registry)) {}

RegistryService::~RegistryService() { Stop(); }

void RegistryService::Mount(HttpServer& server) { MountRegistryRoutes(server, *registry_); }

void RegistryService::Stop() {
  registry_->CancelWatches();
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (reaper_.joinable()) reaper_.join();
}

void RegistryService::ReapLoop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    registry_->Reap();
    lock.lock();
    wake_.wait_for(lock, options_.reap_interval, [this] { return stopping_; });
  }
}

}  // namespace hive::registry
