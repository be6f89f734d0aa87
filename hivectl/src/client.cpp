#include "client.h"

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "hive/core/text.h"
#include "hive/ctl/hivectl.h"
#include "output.h"

namespace hive::ctl::cli {
namespace {

using nlohmann::json;

// The client's message is "<METHOD> <url>: <error>", the error being
// cpp-httplib's terse name (then ": TLS: <reasons>" when OpenSSL gave some)
// or a sentence (a certificate that could not be verified); the url is
// already in the address hivectl prints.
std::string TransportDetail(const std::string& message) {
  const auto pos = message.find(": ");
  const std::string detail = pos == std::string::npos ? message : message.substr(pos + 2);
  const auto end = detail.find(": ");
  const std::string name = detail.substr(0, end);
  const std::string rest = end == std::string::npos ? "" : detail.substr(end);
  std::string out;
  if (name == "Connection") {
    out = "connection failed (is hived running there?)" + rest;
  } else if (name == "ConnectionTimeout") {
    out = "connection timed out" + rest;
  } else if (name == "Read") {
    out = "no answer (the connection broke or --timeout passed)" + rest;
  } else if (name == "Write") {
    out = "sending the request failed" + rest;
  } else if (name == "SSLConnection") {
    out = "the TLS handshake failed" + rest;
  } else {
    out = detail;
  }
  if (detail.starts_with("the server's certificate could not be verified")) {
    out += " (give hived's CA with --ca-file or HIVE_CA_FILE)";
  } else if (detail.find("certificate required") != std::string::npos) {
    out += " (hived wants a client certificate: --cert-file and --key-file)";
  }
  return out;
}

}  // namespace

int UsageError(Session& s, std::string_view message) {
  *s.err << "error: " << message << '\n';
  return kExitUsage;
}

int Call(Session& s, std::string_view method, const std::string& target, json* body,
         const CallOptions& options) {
  HttpClient& client = options.client != nullptr ? *options.client : *s.client;
  auto r = client.Send(method, target, options.payload, options.content_type, options.headers);
  if (!r.ok()) {
    const std::string detail = TransportDetail(r.status().message());
    *s.err << "error: cannot reach hived at " << s.addr << ": " << detail << '\n';
    return kExitUnreachable;
  }
  if (!r->ok()) {
    *s.err << "error: " << StatusFromResponse(*r).message();
    if (r->status == 401) *s.err << " (set HIVE_TOKEN or pass --token)";
    if (r->status == 403) *s.err << " (this needs an operator token)";
    *s.err << '\n';
    return kExitServerError;
  }
  *body = json::parse(r->body, nullptr, false);
  if (body->is_discarded()) {
    *s.err << "error: hived answered " << method << ' ' << target << " with invalid JSON\n";
    return kExitServerError;
  }
  if (options.index != nullptr) {
    auto header = r->HeaderValue("X-Hive-Index");
    *options.index = header ? std::strtoull(header->c_str(), nullptr, 10) : 0;
  }
  return kExitOk;
}

std::string WithQuery(std::string path,
                      const std::vector<std::pair<std::string, std::string>>& params) {
  for (size_t i = 0; i < params.size(); ++i) {
    path += (i == 0 ? "?" : "&") + params[i].first + "=" + UrlEncode(params[i].second);
  }
  return path;
}

void PrintJson(Session& s, const json& j) {
  *s.out << j.dump(2, ' ', false, json::error_handler_t::replace) << '\n';
}

bool PrintedAsJson(Session& s, const json& j) {
  if (s.json_output) PrintJson(s, j);
  return s.json_output;
}

std::string Text(const json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  return it->dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string ValueText(const json& v) {
  return v.is_string() ? v.get<std::string>()
                       : v.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string AgoText(const json& j, const char* key, TimePoint now) {
  std::string text = Text(j, key);
  if (auto t = ParseRfc3339(text); t.ok()) return FormatAgo(*t, now);
  return text;
}

std::string InstanceAddress(const json& instance) {
  std::string host = Text(instance, "address");
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return host + ":" + Text(instance, "port");
}

const json& Array(const json& j, const char* key) {
  static const json kEmpty = json::array();
  if (!j.is_object()) return kEmpty;
  auto it = j.find(key);
  return it != j.end() && it->is_array() ? *it : kEmpty;
}

const json& Object(const json& j, const char* key) {
  static const json kEmpty = json::object();
  if (!j.is_object()) return kEmpty;
  auto it = j.find(key);
  return it != j.end() && it->is_object() ? *it : kEmpty;
}

}  // namespace hive::ctl::cli
