#include "services_commands.h"

#include <chrono>
#include <nlohmann/json.hpp>

#include "hive/core/http_client.h"
#include "hive/core/text.h"
#include "hive/ctl/hivectl.h"
#include "output.h"

namespace hive::ctl {
namespace {

using nlohmann::json;
using namespace cli;  // NOLINT: the helpers shared by the command files

// Each blocking query waits this long on the server; the client's read
// timeout is set above it.
constexpr auto kWatchWait = std::chrono::minutes(5);

void PrintInstances(Session& s, const std::string& name, uint64_t index, const json& body) {
  if (s.json_output) {
    // One line per update, so a script can read the stream line by line.
    *s.out << body.dump(-1, ' ', false, json::error_handler_t::replace) << std::endl;
    return;
  }
  const TimePoint now = s.clock->Now();
  *s.out << "# " << name << " at index " << index << ", " << FormatRfc3339(now) << '\n';
  const json& instances = Array(body, "instances");
  if (instances.empty()) {
    *s.out << "service " << name << " has no instances\n" << std::flush;
    return;
  }
  Table table({"ID", "ADDRESS", "VERSION", "HEALTH", "MAINTENANCE", "LAST-SEEN", "OUTPUT"});
  for (const json& inst : instances) {
    const json& health = Object(inst, "health");
    const json& maintenance = Object(inst, "maintenance");
    std::string maint = "-";
    if (maintenance.value("enabled", false)) {
      maint = Text(maintenance, "reason").empty() ? "on" : "on: " + Text(maintenance, "reason");
    }
    table.AddRow({Text(inst, "id"), InstanceAddress(inst), Text(inst, "version"),
                  Text(health, "status"), maint, AgoText(inst, "last_seen", now),
                  Text(health, "output")});
  }
  table.Print(*s.out);
  *s.out << std::flush;
}

}  // namespace

ServiceCommands::ServiceCommands(CLI::App& services) {
  services.add_flag("-w,--watch", watch_,
                    "with a service name: print its instances again on every change");
  services.add_option("--updates", updates_, "with --watch: exit after N changes")
      ->check(CLI::PositiveNumber);

  deregister_ = services.add_subcommand("deregister", "remove an instance from the registry");
  deregister_->add_option("service", service_, "service")->required();
  deregister_->add_option("id", id_, "instance id")->required();

  maintenance_ = services.add_subcommand(
      "maintenance", "take an instance out of healthy results (or back in) without stopping it");
  maintenance_->add_option("mode", mode_, "on or off")
      ->required()
      ->check(CLI::IsMember({"on", "off"}));
  maintenance_->add_option("service", service_, "service")->required();
  maintenance_->add_option("id", id_, "instance id")->required();
  maintenance_->add_option("--reason", reason_, "why, shown with the instance");
}

bool ServiceCommands::chosen() const { return watch_ || *deregister_ || *maintenance_; }

int ServiceCommands::Run(Session& s, const std::string& name, bool healthy_only) {
  if (*deregister_) return Deregister(s);
  if (*maintenance_) return Maintenance(s);
  if (name.empty())
    return UsageError(s, "--watch needs a service name: hivectl services NAME --watch");
  return Watch(s, name, healthy_only);
}

int ServiceCommands::Watch(Session& s, const std::string& name, bool healthy_only) {
  if (Status st = ValidateName(name, "service"); !st.ok()) return UsageError(s, st.message());
  // A client of its own whose read timeout outlasts the server-side wait.
  HttpClientOptions options = s.client->options();
  options.read_timeout = kWatchWait + std::chrono::seconds(30);
  auto client = HttpClient::Create(options);
  if (!client.ok()) return UsageError(s, client.status().message());

  const std::string base =
      "/api/v1/services/" + name + "?wait=5m" + (healthy_only ? "&healthy=true" : "");
  json body;
  uint64_t index = 0;
  if (int rc = Call(s, "GET", base, &body, {.client = client->get(), .index = &index})) return rc;
  PrintInstances(s, name, index, body);
  int printed = 0;
  while (updates_ == 0 || printed < updates_) {
    uint64_t next = 0;
    if (int rc = Call(s, "GET", base + "&index=" + std::to_string(index), &body,
                      {.client = client->get(), .index = &next})) {
      return rc;
    }
    if (next == index) continue;  // the wait ended without a change
    // A lower index means hived lost its state (a wiped data dir): as Consul
    // documents, do not keep waiting for the old index; follow the new one.
    index = next;
    PrintInstances(s, name, index, body);
    ++printed;
  }
  return kExitOk;
}

int ServiceCommands::Deregister(Session& s) {
  if (Status st = ValidateName(service_, "service"); !st.ok()) return UsageError(s, st.message());
  if (Status st = ValidateName(id_, "instance"); !st.ok()) return UsageError(s, st.message());
  json body;
  if (int rc = Call(s, "DELETE", "/api/v1/services/" + service_ + "/instances/" + id_, &body)) {
    return rc;
  }
  if (!PrintedAsJson(s, body)) {
    *s.out << "deregistered " << service_ << "/" << id_ << '\n';
  }
  return kExitOk;
}

int ServiceCommands::Maintenance(Session& s) {
  if (Status st = ValidateName(service_, "service"); !st.ok()) return UsageError(s, st.message());
  if (Status st = ValidateName(id_, "instance"); !st.ok()) return UsageError(s, st.message());
  const bool enabled = mode_ == "on";
  const json request{{"enabled", enabled}, {"reason", reason_}};
  json body;
  if (int rc = Call(s, "PUT", "/api/v1/services/" + service_ + "/instances/" + id_ + "/maintenance",
                    &body, {.payload = request.dump()})) {
    return rc;
  }
  if (!PrintedAsJson(s, body)) {
    *s.out << service_ << "/" << id_
           << (enabled ? " is in maintenance: left out of healthy results\n"
                       : " is out of maintenance\n");
  }
  return kExitOk;
}

}  // namespace hive::ctl
