#include "http_handlers.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "hive/core/text.h"

namespace hive::registry {
namespace {

using nlohmann::json;

// Enough for a registration at every limit of instance.h.
constexpr size_t kMaxWriteBodyBytes = 256u << 10;
constexpr auto kDefaultWait = std::chrono::seconds(30);
constexpr auto kMaxWait = std::chrono::minutes(5);

Status WrongType(std::string_view field, std::string_view expected) {
  return Status::InvalidArgument(std::string(field) + " must be " + std::string(expected));
}

// Parses `body` as a JSON object.
Status ParseObject(std::string_view body, json* out) {
  try {
    *out = json::parse(body);
  } catch (const json::exception& e) {
    std::string_view what = e.what();
    // Drop nlohmann's "[json.exception.parse_error.101] " prefix.
    if (size_t pos = what.find("] "); pos != std::string_view::npos) what.remove_prefix(pos + 2);
    return Status::InvalidArgument("malformed JSON body: " + std::string(what));
  }
  if (!out->is_object()) return Status::InvalidArgument("request body must be a JSON object");
  return Status::Ok();
}

// The member `key` of `obj`, or null when absent or JSON null.
const json* Member(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

Status ReadString(const json& obj, const char* key, std::string* out) {
  const json* v = Member(obj, key);
  if (v == nullptr) return Status::Ok();
  if (!v->is_string()) return WrongType(key, "a string");
  *out = v->get<std::string>();
  return Status::Ok();
}

// {"status": ..., "output": ...}; `prefix` names the fields in errors.
Status ReadHealth(const json& obj, std::string_view prefix, Health* out) {
  std::string status_field = std::string(prefix) + "status";
  std::string output_field = std::string(prefix) + "output";
  const json* status = Member(obj, "status");
  if (status == nullptr) return Status::InvalidArgument(status_field + " is required");
  if (!status->is_string()) return WrongType(status_field, "a string");
  auto parsed = ParseHealthStatus(status->get<std::string>());
  if (!parsed.ok()) return parsed.status().WithContext(status_field);
  out->status = *parsed;
  if (const json* output = Member(obj, "output")) {
    if (!output->is_string()) return WrongType(output_field, "a string");
    out->output = output->get<std::string>();
  }
  return Status::Ok();
}

Status ReadRegistration(const json& obj, Registration* reg) {
  if (Member(obj, "address") == nullptr) return Status::InvalidArgument("address is required");
  HIVE_RETURN_IF_ERROR(ReadString(obj, "address", &reg->address));

  const json* port = Member(obj, "port");
  if (port == nullptr) return Status::InvalidArgument("port is required");
  if (!port->is_number_integer()) return WrongType("port", "an integer");
  if (port->is_number_unsigned() ? port->get<uint64_t>() > 65535
                                 : port->get<int64_t>() < 1 || port->get<int64_t>() > 65535) {
    return Status::InvalidArgument("port " + port->dump() + " is out of range 1..65535");
  }
  reg->port = port->get<int>();

  HIVE_RETURN_IF_ERROR(ReadString(obj, "version", &reg->version));

  if (const json* tags = Member(obj, "tags")) {
    if (!tags->is_array()) return WrongType("tags", "an array of strings");
    for (size_t i = 0; i < tags->size(); ++i) {
      const json& tag = (*tags)[i];
      if (!tag.is_string()) return WrongType("tags[" + std::to_string(i) + "]", "a string");
      reg->tags.push_back(tag.get<std::string>());
    }
  }

  if (const json* metadata = Member(obj, "metadata")) {
    if (!metadata->is_object()) return WrongType("metadata", "an object of strings");
    for (const auto& [key, value] : metadata->items()) {
      if (!value.is_string()) return WrongType("metadata." + key, "a string");
      reg->metadata.emplace(key, value.get<std::string>());
    }
  }

  if (const json* ttl = Member(obj, "ttl")) {
    if (!ttl->is_string()) return WrongType("ttl", "a duration string like \"15s\"");
    auto d = ParseDuration(ttl->get<std::string>());
    if (!d.ok()) return d.status().WithContext("ttl");
    reg->ttl = *d;
  }

  if (const json* health = Member(obj, "health")) {
    if (!health->is_object()) return WrongType("health", "an object");
    Health h;
    HIVE_RETURN_IF_ERROR(ReadHealth(*health, "health.", &h));
    reg->health = std::move(h);
  }
  return Status::Ok();
}

json InstanceJson(const Instance& inst) {
  return json{
      {"service", inst.service},
      {"id", inst.id},
      {"address", inst.address},
      {"port", inst.port},
      {"version", inst.version},
      {"tags", inst.tags},
      {"metadata", inst.metadata},
      {"ttl", FormatDuration(inst.ttl)},
      {"health",
       {{"status", std::string(HealthStatusName(inst.health.status))},
        {"output", inst.health.output}}},
      {"registered_at", FormatRfc3339(inst.registered_at)},
      {"last_seen", FormatRfc3339(inst.last_seen)},
      {"lease_expires_at", FormatRfc3339(inst.lease_expires_at)},
  };
}

void Reply(HttpResponse& res, const json& body, uint64_t index) {
  res.SetJson(body.dump(-1, ' ', false, json::error_handler_t::replace));
  res.SetHeader("X-Hive-Index", std::to_string(index));
}

Status ParseHealthyParam(const HttpRequest& req, bool* healthy) {
  auto v = req.Query("healthy");
  if (!v || v->empty() || *v == "false" || *v == "0") return Status::Ok();
  if (*v == "true" || *v == "1") {
    *healthy = true;
    return Status::Ok();
  }
  return Status::InvalidArgument("healthy must be true or false, not " + JsonString(*v));
}

Status ParseIndexParam(const std::string& text, uint64_t* index) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *index);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return Status::InvalidArgument("index must be a non-negative integer, not " + JsonString(text));
  }
  return Status::Ok();
}

Status ParseWaitParam(const HttpRequest& req, std::chrono::milliseconds* wait) {
  *wait = kDefaultWait;
  auto v = req.Query("wait");
  if (!v) return Status::Ok();
  auto d = ParseDuration(*v);
  if (!d.ok()) return d.status().WithContext("wait");
  // As Consul does, a longer wait is cut to the maximum rather than refused.
  *wait = std::chrono::duration_cast<std::chrono::milliseconds>(std::min<Duration>(*d, kMaxWait));
  return Status::Ok();
}

Status HandleRegister(Registry& registry, const HttpRequest& req, HttpResponse& res) {
  json body;
  Registration reg;
  HIVE_RETURN_IF_ERROR(ParseObject(req.body, &body));
  HIVE_RETURN_IF_ERROR(ReadRegistration(body, &reg));
  auto result = registry.Register(req.PathParam("service"), req.PathParam("id"), reg);
  if (!result.ok()) return result.status();
  Reply(res, InstanceJson(result->instance), result->index);
  return Status::Ok();
}

Status HandleHeartbeat(Registry& registry, const HttpRequest& req, HttpResponse& res) {
  std::optional<Health> health;
  if (!Trim(req.body).empty()) {
    json body;
    HIVE_RETURN_IF_ERROR(ParseObject(req.body, &body));
    if (Member(body, "status") != nullptr || Member(body, "output") != nullptr) {
      Health h;
      HIVE_RETURN_IF_ERROR(ReadHealth(body, "", &h));
      health = std::move(h);
    }
  }
  auto index = registry.Heartbeat(req.PathParam("service"), req.PathParam("id"), health);
  if (!index.ok()) return index.status();
  Reply(res, json{{"index", *index}}, *index);
  return Status::Ok();
}

Status HandleDeregister(Registry& registry, const HttpRequest& req, HttpResponse& res) {
  auto index = registry.Deregister(req.PathParam("service"), req.PathParam("id"));
  if (!index.ok()) return index.status();
  Reply(res, json{{"index", *index}}, *index);
  return Status::Ok();
}

Status HandleList(Registry& registry, const HttpRequest&, HttpResponse& res) {
  ServiceList list = registry.ListServices();
  json services = json::array();
  for (const ServiceSummary& s : list.services) {
    services.push_back({{"name", s.name},
                        {"instances", s.instances},
                        {"passing", s.passing},
                        {"warning", s.warning},
                        {"critical", s.critical}});
  }
  Reply(res, json{{"index", list.index}, {"services", std::move(services)}}, list.index);
  return Status::Ok();
}

Status HandleGet(Registry& registry, const HttpRequest& req, HttpResponse& res) {
  bool healthy = false;
  HIVE_RETURN_IF_ERROR(ParseHealthyParam(req, &healthy));
  std::string_view service = req.PathParam("service");
  auto index_text = req.Query("index");
  uint64_t index = 0;
  std::chrono::milliseconds wait{};
  HIVE_RETURN_IF_ERROR(ParseWaitParam(req, &wait));
  if (index_text) HIVE_RETURN_IF_ERROR(ParseIndexParam(*index_text, &index));
  auto result = index_text ? registry.WatchService(service, healthy, index, wait)
                           : registry.GetService(service, healthy);
  if (!result.ok()) return result.status();
  json instances = json::array();
  for (const Instance& inst : result->instances) instances.push_back(InstanceJson(inst));
  Reply(res,
        json{{"service", result->service},
             {"index", result->index},
             {"instances", std::move(instances)}},
        result->index);
  return Status::Ok();
}

}  // namespace

void MountRegistryRoutes(HttpServer& server, Registry& registry) {
  auto bind = [&registry](Status (*handler)(Registry&, const HttpRequest&, HttpResponse&)) {
    return [&registry, handler](const HttpRequest& req, HttpResponse& res) {
      if (Status s = handler(registry, req, res); !s.ok()) res.SetError(s);
    };
  };
  const RouteOptions agent_write{Access::kAgent, kMaxWriteBodyBytes};
  server.Route("PUT", "/api/v1/services/{service}/instances/{id}", agent_write,
               bind(HandleRegister));
  server.Route("PUT", "/api/v1/services/{service}/instances/{id}/heartbeat", agent_write,
               bind(HandleHeartbeat));
  server.Route("DELETE", "/api/v1/services/{service}/instances/{id}", agent_write,
               bind(HandleDeregister));
  server.Route("GET", "/api/v1/services", {Access::kRead}, bind(HandleList));
  server.Route("GET", "/api/v1/services/{service}", {Access::kRead}, bind(HandleGet));
}

}  // namespace hive::registry
