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
constexpr size_t kMaxAppliedBodyBytes = 64u << 10;
constexpr size_t kDefaultAuditLimit = 100;

// Admins and agents read secrets in clear (an agent renders them into its
// service's file); readers and operators see them redacted, and so does
// anyone who asks with ?redact=true (the dashboard always does: a screen
// is no place for a password). A redact value that is not a yes/no is an
// error; handlers check it with RedactParam() before doing any work.
Status RedactParam(const HttpRequest& req) { return req.BoolQuery("redact").status(); }

bool ShowsSecrets(const HttpRequest& req) {
  const Role role = req.principal.role;
  Result<bool> redact = req.BoolQuery("redact");
  return (role == Role::kAdmin || role == Role::kAgent) && redact.ok() && !*redact;
}

Properties ForReader(const Properties& properties, const HttpRequest& req) {
  return ShowsSecrets(req) ? properties : RedactSecrets(properties);
}

PropertyDiff ForReader(const PropertyDiff& diff, const HttpRequest& req) {
  return ShowsSecrets(req) ? diff : RedactSecrets(diff);
}

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
  HIVE_RETURN_IF_ERROR(RedactParam(req));
  Result<bool> dry_run = req.BoolQuery("dry_run");
  if (!dry_run.ok()) return dry_run.status();
  out.dry_run = *dry_run;
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
  AppendField(out, "deleted");
  out += info.deleted ? "true" : "false";
}

void AppendBoolField(std::string& out, std::string_view name, bool value) {
  AppendField(out, name);
  out += value ? "true" : "false";
}

void AppendKeyList(std::string& out, std::string_view name, const std::vector<std::string>& keys) {
  AppendField(out, name);
  out += '[';
  for (const auto& key : keys) {
    if (out.back() != '[') out += ',';
    AppendJsonString(out, key);
  }
  out += ']';
}

void AppendSecretKeys(std::string& out, const Properties& properties) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : properties) {
    if (value.secret()) keys.push_back(key);
  }
  AppendKeyList(out, "secret_keys", keys);
}

void AnswerPush(const Result<PushResult>& result, const HttpRequest& req,
                const WriteRequest& request, HttpResponse& res) {
  if (!result.ok()) {
    res.SetError(result.status());
    return;
  }
  std::string out = "{";
  AppendStringField(out, "app", request.app);
  AppendStringField(out, "profile", request.profile);
  AppendIntField(out, "version", result->version);
  AppendBoolField(out, "changed", result->changed);
  AppendIntField(out, "index", result->index);
  if (request.dry_run) AppendBoolField(out, "dry_run", true);
  AppendField(out, "diff");
  AppendDiffJson(out, ForReader(result->diff, req));
  out += '}';
  res.SetJson(std::move(out));
  res.SetHeader("X-Hive-Index", std::to_string(result->index));
}

}  // namespace

Result<std::unique_ptr<ConfigStoreService>> ConfigStoreService::Open(ConfigStoreOptions options) {
  auto store = ConfigStore::Open(options);
  if (!store.ok()) return store.status();
  auto rollout = RolloutTracker::Open(options.data_dir, options.clock, options.metrics);
  if (!rollout.ok()) return rollout.status();
  return std::unique_ptr<ConfigStoreService>(
      new ConfigStoreService(std::move(*store), std::move(*rollout)));
}

void ConfigStoreService::Mount(hive::HttpServer& server) {
  const std::string base = "/api/v1/config/{app}/{profile}";
  // Every route names an application: a scoped token reads only its own
  // applications' and the shared defaults, and writes or reports only its own.
  auto bind = [this](void (ConfigStoreService::*handler)(const HttpRequest&, HttpResponse&),
                     bool writes) {
    return [this, handler, writes](const HttpRequest& req, HttpResponse& res) {
      const std::string_view app = req.PathParam("app");
      if (writes || app != kSharedApplication) {
        if (Status s = CheckScope(req.principal, app, ScopeTarget::kApplication); !s.ok()) {
          return res.SetError(s);
        }
      }
      (this->*handler)(req, res);
    };
  };
  auto read = [&](auto handler) { return bind(handler, false); };
  auto write = [&](auto handler) { return bind(handler, true); };
  server.Route("PUT", base, {Access::kOperate, kMaxDocumentBytes},
               write(&ConfigStoreService::HandlePush));
  server.Route("GET", base, {Access::kRead}, read(&ConfigStoreService::HandleGet));
  server.Route("GET", base + "/history", {Access::kRead}, read(&ConfigStoreService::HandleHistory));
  server.Route("GET", base + "/versions/{version}", {Access::kRead},
               read(&ConfigStoreService::HandleVersion));
  server.Route("POST", base + "/rollback", {Access::kOperate, kMaxRollbackBodyBytes},
               write(&ConfigStoreService::HandleRollback));
  server.Route("DELETE", base, {Access::kOperate, kMaxRollbackBodyBytes},
               write(&ConfigStoreService::HandleDelete));
  server.Route("GET", base + "/diff", {Access::kRead}, read(&ConfigStoreService::HandleDiff));
  server.Route("PUT", base + "/applied/{instance}", {Access::kAgent, kMaxAppliedBodyBytes},
               write(&ConfigStoreService::HandleApplied));
  server.Route("GET", base + "/rollout", {Access::kRead}, read(&ConfigStoreService::HandleRollout));
  server.Route("GET", "/api/v1/audit", {Access::kRead}, [this](const HttpRequest& req,
                                                               HttpResponse& res) {
    HandleAudit(req, res);
  });
}

void ConfigStoreService::Stop() { store_->Stop(); }

void ConfigStoreService::HandlePush(const HttpRequest& req, HttpResponse& res) {
  auto request = WriteRequestFrom(req);
  if (!request.ok()) {
    res.SetError(request.status());
    return;
  }
  auto format = FormatForContentType(req.HeaderValue("Content-Type").value_or(""));
  if (!format.ok()) {
    res.SetError(format.status());
    return;
  }
  AnswerPush(store_->PushDocument(*request, *format, req.body), req, *request, res);
}

void ConfigStoreService::HandleGet(const HttpRequest& req, HttpResponse& res) {
  // Watchers need the index even from an error, to know where to resume.
  auto fail = [&](const Status& status) {
    res.SetError(status);
    res.SetHeader("X-Hive-Index", std::to_string(store_->index()));
  };
  if (Status s = RedactParam(req); !s.ok()) return fail(s);
  auto index_param = req.Query("index");
  if (!index_param) return RenderEffective(req, res);
  auto after = ParseVersion(*index_param, "index");
  if (!after.ok()) return fail(after.status());
  Duration wait = kDefaultWait;
  if (auto wait_param = req.Query("wait")) {
    auto parsed = ParseDuration(*wait_param);
    if (!parsed.ok()) return fail(parsed.status().WithContext("wait"));
    wait = std::min(*parsed, kMaxWait);
  }
  std::string app(req.PathParam("app"));
  std::string profile(req.PathParam("profile"));
  if (Status s = ValidateName(app, "application"); !s.ok()) return fail(s);
  if (Status s = ValidateName(profile, "profile"); !s.ok()) return fail(s);
  ConfigStore* store = store_.get();
  auto wake_on = [store, app, profile](Notifier::Listener wake) {
    Result<Subscription> sub = store->SubscribeChanges(app, profile, std::move(wake));
    return sub.ok() ? std::move(*sub) : Subscription();
  };
  res.Wait(std::move(wake_on), wait,
           [this, store, &req, app, profile, after = *after](HttpResponse& r, bool last) {
             if (!last && !store->ChangedSince(app, profile, after)) return false;
             RenderEffective(req, r);
             return true;
           });
}

// The effective configuration as JSON; secrets as the caller's role and
// ?redact allow.
void ConfigStoreService::RenderEffective(const HttpRequest& req, HttpResponse& res) {
  auto fail = [&](const Status& status) {
    res.SetError(status);
    res.SetHeader("X-Hive-Index", std::to_string(store_->index()));
  };
  auto config = store_->GetEffective(req.PathParam("app"), req.PathParam("profile"));
  if (!config.ok()) return fail(config.status());
  std::string out = "{";
  AppendStringField(out, "app", config->app);
  AppendStringField(out, "profile", config->profile);
  AppendIntField(out, "version", config->version);
  AppendIntField(out, "index", config->index);
  AppendField(out, "properties");
  AppendPropertiesJson(out, ForReader(config->properties, req));
  AppendSecretKeys(out, config->properties);
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
  if (Status s = RedactParam(req); !s.ok()) return res.SetError(s);
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
  AppendPropertiesJson(out, ForReader(doc->properties, req));
  AppendSecretKeys(out, doc->properties);
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
  AnswerPush(store_->Rollback(*request, to), req, *request, res);
}

void ConfigStoreService::HandleDelete(const HttpRequest& req, HttpResponse& res) {
  auto request = WriteRequestFrom(req);
  if (!request.ok()) {
    res.SetError(request.status());
    return;
  }
  AnswerPush(store_->Delete(*request), req, *request, res);
}

void ConfigStoreService::HandleDiff(const HttpRequest& req, HttpResponse& res) {
  if (Status s = RedactParam(req); !s.ok()) return res.SetError(s);
  const std::string_view app = req.PathParam("app");
  const std::string_view profile = req.PathParam("profile");
  auto current = store_->CurrentVersion(app, profile);
  if (!current.ok()) {
    res.SetError(current.status());
    return;
  }
  auto version_param = [&](std::string_view name, int64_t fallback) -> Result<int64_t> {
    auto text = req.Query(name);
    return text ? ParseVersion(*text, name) : Result<int64_t>(fallback);
  };
  auto to = version_param("to", *current);
  if (!to.ok()) {
    res.SetError(to.status());
    return;
  }
  auto from = version_param("from", std::max<int64_t>(*to - 1, 0));
  if (!from.ok()) {
    res.SetError(from.status());
    return;
  }
  auto diff = store_->Diff(app, profile, *from, *to);
  if (!diff.ok()) {
    res.SetError(diff.status());
    return;
  }
  std::string out = "{";
  AppendStringField(out, "app", app);
  AppendStringField(out, "profile", profile);
  AppendIntField(out, "from", *from);
  AppendIntField(out, "to", *to);
  AppendField(out, "diff");
  AppendDiffJson(out, ForReader(*diff, req));
  out += '}';
  res.SetJson(std::move(out));
}

void ConfigStoreService::HandleApplied(const HttpRequest& req, HttpResponse& res) {
  const std::string_view app = req.PathParam("app");
  const std::string_view profile = req.PathParam("profile");
  auto fields = ParseJsonDocument(req.body);
  if (!fields.ok()) {
    res.SetError(fields.status().WithContext("rollout report"));
    return;
  }
  InstanceRollout report;
  report.instance = std::string(req.PathParam("instance"));
  auto field = [&](const char* name) -> const Value* {
    auto it = fields->find(name);
    return it == fields->end() ? nullptr : &it->second;
  };
  const Value* version = field("version");
  const Value* status = field("status");
  const Value* message = field("message");
  if (version == nullptr || version->type() != ValueType::kNumber) {
    res.SetError(Status::InvalidArgument("rollout report: \"version\" must be a version number"));
    return;
  }
  if (status == nullptr || status->type() != ValueType::kString) {
    res.SetError(
        Status::InvalidArgument("rollout report: \"status\" must be \"applied\" or \"failed\""));
    return;
  }
  if (message != nullptr && message->type() != ValueType::kString) {
    res.SetError(Status::InvalidArgument("rollout report: \"message\" must be a string"));
    return;
  }
  auto parsed_version = ParseVersion(version->text(), "rollout report: \"version\"");
  auto parsed_status = ParseRolloutStatus(status->text());
  if (!parsed_version.ok() || !parsed_status.ok()) {
    res.SetError(!parsed_version.ok() ? parsed_version.status() : parsed_status.status());
    return;
  }
  auto current = store_->CurrentVersion(app, profile);
  if (!current.ok()) {
    res.SetError(current.status());
    return;
  }
  if (*parsed_version > *current) {
    res.SetError(Status::InvalidArgument(
        "rollout report: " + std::string(app) + "/" + std::string(profile) + " has no version " +
        std::to_string(*parsed_version) + " (current is " + std::to_string(*current) + ")"));
    return;
  }
  report.version = *parsed_version;
  report.status = *parsed_status;
  if (message != nullptr) report.message = message->text();
  if (Status s = rollout_->Report(app, profile, report); !s.ok()) {
    res.SetError(s);
    return;
  }
  std::string out = "{";
  AppendStringField(out, "app", app);
  AppendStringField(out, "profile", profile);
  AppendStringField(out, "instance", report.instance);
  AppendIntField(out, "version", report.version);
  AppendStringField(out, "status", RolloutStatusName(report.status));
  out += '}';
  res.SetJson(std::move(out));
}

void ConfigStoreService::HandleRollout(const HttpRequest& req, HttpResponse& res) {
  const std::string_view app = req.PathParam("app");
  const std::string_view profile = req.PathParam("profile");
  auto current = store_->CurrentVersion(app, profile);
  if (!current.ok()) {
    res.SetError(current.status());
    return;
  }
  auto instances = rollout_->Instances(app, profile);
  if (!instances.ok()) {
    res.SetError(instances.status());
    return;
  }
  std::string out = "{";
  AppendStringField(out, "app", app);
  AppendStringField(out, "profile", profile);
  AppendIntField(out, "version", *current);
  AppendField(out, "instances");
  out += '[';
  for (const auto& i : *instances) {
    if (out.back() != '[') out += ',';
    out += '{';
    AppendStringField(out, "instance", i.instance);
    AppendIntField(out, "version", i.version);
    AppendStringField(out, "status", RolloutStatusName(i.status));
    AppendStringField(out, "message", i.message);
    AppendStringField(out, "updated_at", FormatRfc3339(i.updated_at));
    out += '}';
  }
  out += "]}";
  res.SetJson(std::move(out));
}

void ConfigStoreService::HandleAudit(const HttpRequest& req, HttpResponse& res) {
  AuditQuery query;
  query.app = req.Query("app").value_or("");
  // A scoped token reads the audit of one of its own applications at a time.
  if (req.principal.scoped()) {
    if (query.app.empty()) {
      return res.SetError(Status::PermissionDenied(
          "token '" + req.principal.name + "' is scoped to some services: ask for one with ?app="));
    }
    if (Status s = CheckScope(req.principal, query.app, ScopeTarget::kApplication); !s.ok()) {
      return res.SetError(s);
    }
  }
  query.profile = req.Query("profile").value_or("");
  query.limit = kDefaultAuditLimit;
  if (auto limit = req.Query("limit")) {
    auto parsed = ParseInt(*limit, "limit");
    if (!parsed.ok() || *parsed < 1 || *parsed > static_cast<int64_t>(kMaxAuditLimit)) {
      res.SetError(Status::InvalidArgument("limit must be an integer from 1 to " +
                                           std::to_string(kMaxAuditLimit)));
      return;
    }
    query.limit = static_cast<size_t>(*parsed);
  }
  auto entries = store_->Audit(query);
  if (!entries.ok()) {
    res.SetError(entries.status());
    return;
  }
  std::string out = "{\"entries\":[";
  for (const auto& e : *entries) {
    if (out.back() != '[') out += ',';
    out += '{';
    AppendIntField(out, "id", e.id);
    AppendStringField(out, "at", FormatRfc3339(e.at));
    AppendStringField(out, "actor", e.actor);
    AppendStringField(out, "action", AuditActionName(e.action));
    AppendStringField(out, "app", e.app);
    AppendStringField(out, "profile", e.profile);
    AppendIntField(out, "version", e.version);
    AppendStringField(out, "message", e.message);
    AppendKeyList(out, "added", e.added);
    AppendKeyList(out, "removed", e.removed);
    AppendKeyList(out, "changed", e.changed);
    out += '}';
  }
  out += "]}";
  res.SetJson(std::move(out));
}

}  // namespace hive::config_store
