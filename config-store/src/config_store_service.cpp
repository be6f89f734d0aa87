#include "hive/config_store/config_store_service.h"

#include <algorithm>
#include <charconv>
#include <string>
#include <string_view>

#include "hive/core/text.h"

namespace hive::config_store {
namespace {

constexpr Duration kDefaultWait = std::chrono::seconds(30);
constexpr Duration kMaxWait = std::chrono::minutes(5);
constexpr size_t kMaxRollbackBodyBytes = 64u << 10;

// A decimal integer that fills `text` entirely.
Result<int64_t> ParseInt(std::string_view text, std::string_view what) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return Status::InvalidArgument(std::string(what) + " must be an integer, not '" +
                                   std::string(text.substr(0, 64)) + "'");
  }
  return value;
}

Result<int64_t> ParseVersion(std::string_view text, std::string_view what) {
  auto v = ParseInt(text, what);
  if (v.ok() && *v < 0) {
    return Status::InvalidArgument(std::string(what) + " must not be negative");
  }
  return v;
}

// The principal's name, the message header and If-Match of a write.
Result<WriteRequest> WriteRequestFrom(const HttpRequest& req) {
  WriteRequest out;
  out.app = std::string(req.PathParam("app"));
  out.profile = std::string(req.PathParam("profile"));
  out.author = req.principal.name;
  out.message = req.HeaderValue("X-Hive-Message").value_or("");
  if (auto if_match = req.HeaderValue("If-Match")) {
    std::string_view v = Trim(*if_match);
    // Tolerate the quoted entity-tag form: If-Match: "3".
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    auto version = ParseVersion(v, "If-Match (the version expected to be current)");
    if (!version.ok()) return version.status();
    out.if_match = *version;
  }
  return out;
}

void AppendField(std::string& out, std::string_view name) {
  if (out.back() != '{') out += ',';
  AppendJsonString(out, name);
  out += ':';
}

void AppendStringField(std::string& out, std::string_view name, std::string_view value) {
  AppendField(out, name);
  AppendJsonString(out, value);
}

void AppendIntField(std::string& out, std::string_view name, int64_t value) {
  AppendField(out, name);
  out += std::to_string(value);
}

void AppendVersionInfoFields(std::string& out, const VersionInfo& info) {
  AppendIntField(out, "version", info.version);
  AppendStringField(out, "author", info.author);
  AppendStringField(out, "message", info.message);
  AppendStringField(out, "created_at", FormatRfc3339(info.created_at));
  AppendStringField(out, "hash", info.hash);
  AppendIntField(out, "keys", static_cast<int64_t>(info.key_count));
}

void AnswerPush(const Result<PushResult>& result, const WriteRequest& request, HttpResponse& res) {
  if (!result.ok()) {
    res.SetError(result.status());
    return;
  }
  std::string out = "{";
  AppendStringField(out, "app", request.app);
  AppendStringField(out, "profile", request.profile);
  AppendIntField(out, "version", result->version);
  AppendField(out, "changed");
  out += result->changed ? "true" : "false";
  AppendIntField(out, "index", result->index);
  out += '}';
  res.SetJson(std::move(out));
  res.SetHeader("X-Hive-Index", std::to_string(result->index));
}

}  // namespace

Result<std::unique_ptr<ConfigStoreService>> ConfigStoreService::Open(ConfigStoreOptions options) {
  auto store = ConfigStore::Open(options);
  if (!store.ok()) return store.status();
  return std::unique_ptr<ConfigStoreService>(new ConfigStoreService(std::move(*store)));
}

void ConfigStoreService::Mount(hive::HttpServer& server) {
  const std::string base = "/api/v1/config/{app}/{profile}";
  auto bind = [this](void (ConfigStoreService::*handler)(const HttpRequest&, HttpResponse&)) {
    return
        [this, handler](const HttpRequest& req, HttpResponse& res) { (this->*handler)(req, res); };
  };
  server.Route("PUT", base, {Access::kOperate, kMaxDocumentBytes},
               bind(&ConfigStoreService::HandlePush));
  server.Route("GET", base, {Access::kRead}, bind(&ConfigStoreService::HandleGet));
  server.Route("GET", base + "/history", {Access::kRead}, bind(&ConfigStoreService::HandleHistory));
  server.Route("GET", base + "/versions/{version}", {Access::kRead},
               bind(&ConfigStoreService::HandleVersion));
  server.Route("POST", base + "/rollback", {Access::kOperate, kMaxRollbackBodyBytes},
               bind(&ConfigStoreService::HandleRollback));
}

void ConfigStoreService::Stop() { store_->Stop(); }

void ConfigStoreService::HandlePush(const HttpRequest& req, HttpResponse& res) {
  auto request = WriteRequestFrom(req);
  if (!request.ok()) {
    res.SetError(request.status());
    return;
  }
  AnswerPush(store_->PushJson(*request, req.body), *request, res);
}

void ConfigStoreService::HandleGet(const HttpRequest& req, HttpResponse& res) {
  // Watchers need the index even from an error, to know where to resume.
  auto fail = [&](const Status& status) {
    res.SetError(status);
    res.SetHeader("X-Hive-Index", std::to_string(store_->index()));
  };
  if (auto index_param = req.Query("index")) {
    auto after = ParseVersion(*index_param, "index");
    if (!after.ok()) return fail(after.status());
    Duration wait = kDefaultWait;
    if (auto wait_param = req.Query("wait")) {
      auto parsed = ParseDuration(*wait_param);
      if (!parsed.ok()) return fail(parsed.status().WithContext("wait"));
      wait = std::min(*parsed, kMaxWait);
    }
    store_->WaitForIndex(*after, wait);
  }
  auto config = store_->GetEffective(req.PathParam("app"), req.PathParam("profile"));
  if (!config.ok()) return fail(config.status());
  std::string out = "{";
  AppendStringField(out, "app", config->app);
  AppendStringField(out, "profile", config->profile);
  AppendIntField(out, "version", config->version);
  AppendIntField(out, "index", config->index);
  AppendField(out, "properties");
  AppendPropertiesJson(out, config->properties);
  AppendField(out, "property_sources");
  out += '{';
  for (const auto& [key, source] : config->property_sources) {
    AppendStringField(out, key, source);
  }
  out += '}';
  AppendField(out, "sources");
  out += '[';
  for (const auto& source : config->sources) {
    if (out.back() != '[') out += ',';
    out += '{';
    AppendStringField(out, "app", source.app);
    AppendStringField(out, "profile", source.profile);
    AppendIntField(out, "version", source.version);
    out += '}';
  }
  out += "]}";
  res.SetJson(std::move(out));
  res.SetHeader("X-Hive-Index", std::to_string(config->index));
}

void ConfigStoreService::HandleHistory(const HttpRequest& req, HttpResponse& res) {
  auto history = store_->History(req.PathParam("app"), req.PathParam("profile"));
  if (!history.ok()) {
    res.SetError(history.status());
    return;
  }
  std::string out = "{";
  AppendStringField(out, "app", req.PathParam("app"));
  AppendStringField(out, "profile", req.PathParam("profile"));
  AppendField(out, "versions");
  out += '[';
  for (const auto& info : *history) {
    if (out.back() != '[') out += ',';
    out += '{';
    AppendVersionInfoFields(out, info);
    out += '}';
  }
  out += "]}";
  res.SetJson(std::move(out));
  res.SetHeader("X-Hive-Index", std::to_string(store_->index()));
}

void ConfigStoreService::HandleVersion(const HttpRequest& req, HttpResponse& res) {
  auto version = ParseVersion(req.PathParam("version"), "version");
  if (!version.ok()) {
    res.SetError(version.status());
    return;
  }
  auto doc = store_->GetVersion(req.PathParam("app"), req.PathParam("profile"), *version);
  if (!doc.ok()) {
    res.SetError(doc.status());
    return;
  }
  std::string out = "{";
  AppendStringField(out, "app", doc->info.app);
  AppendStringField(out, "profile", doc->info.profile);
  AppendVersionInfoFields(out, doc->info);
  AppendField(out, "properties");
  AppendPropertiesJson(out, doc->properties);
  out += '}';
  res.SetJson(std::move(out));
  res.SetHeader("X-Hive-Index", std::to_string(store_->index()));
}

void ConfigStoreService::HandleRollback(const HttpRequest& req, HttpResponse& res) {
  auto request = WriteRequestFrom(req);
  if (!request.ok()) {
    res.SetError(request.status());
    return;
  }
  std::optional<int64_t> to;
  if (!Trim(req.body).empty()) {
    // The body is a tiny JSON object; the document parser reads it as well.
    auto fields = ParseJsonDocument(req.body);
    if (!fields.ok()) {
      res.SetError(fields.status().WithContext("rollback body"));
      return;
    }
    for (const auto& [key, value] : *fields) {
      if (key != "to") {
        res.SetError(Status::InvalidArgument("rollback body: unknown field '" + key +
                                             "' (expected {\"to\": <version>})"));
        return;
      }
      if (value.type() != ValueType::kNumber) {
        res.SetError(Status::InvalidArgument("rollback body: \"to\" must be a version number"));
        return;
      }
      auto version = ParseInt(value.text(), "rollback body: \"to\"");
      if (!version.ok()) {
        res.SetError(version.status());
        return;
      }
      to = *version;
    }
  }
  AnswerPush(store_->Rollback(*request, to), *request, res);
}

}  // namespace hive::config_store
