#include "service_config.h"

#include <sys/stat.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace hive::demo {
namespace {

// A number, or a string holding one ("0.3"), as hive-agent may write either.
std::optional<double> NumberValue(const nlohmann::json& value) {
  if (value.is_number()) return value.get<double>();
  if (!value.is_string()) return std::nullopt;
  const std::string& text = value.get_ref<const std::string&>();
  double parsed = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return parsed;
}

std::string Describe(const ServiceSettings& s) {
  std::ostringstream out;
  out << "failure_rate=" << s.failure_rate << " latency_ms=" << s.latency_ms;
  return out.str();
}

}  // namespace

std::optional<ServiceSettings> ParseServiceSettings(const std::string& text, std::string* error) {
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    *error = "not valid JSON";
    return std::nullopt;
  }
  if (!doc.is_object()) {
    *error = "not a JSON object";
    return std::nullopt;
  }
  ServiceSettings settings;
  if (auto it = doc.find("failure_rate"); it != doc.end()) {
    std::optional<double> rate = NumberValue(*it);
    if (!rate || !std::isfinite(*rate) || *rate < 0 || *rate > 1) {
      *error = "failure_rate must be a number between 0 and 1, got " + it->dump();
      return std::nullopt;
    }
    settings.failure_rate = *rate;
  }
  if (auto it = doc.find("latency_ms"); it != doc.end()) {
    std::optional<double> latency = NumberValue(*it);
    // An hour bounds a typo without limiting any sensible demo.
    if (!latency || !std::isfinite(*latency) || *latency < 0 || *latency > 3600e3) {
      *error = "latency_ms must be a number between 0 and 3600000, got " + it->dump();
      return std::nullopt;
    }
    settings.latency_ms = *latency;
  }
  return settings;
}

ConfigWatcher::ConfigWatcher(std::string path, JsonLog* log,
                             std::chrono::milliseconds poll_interval)
    : path_(std::move(path)), log_(log), poll_interval_(poll_interval) {
  Check();
  thread_ = std::thread([this] { Run(); });
}

ConfigWatcher::~ConfigWatcher() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

ServiceSettings ConfigWatcher::Current() const {
  std::lock_guard lock(mu_);
  return settings_;
}

int64_t ConfigWatcher::reloads() const {
  std::lock_guard lock(mu_);
  return reloads_;
}

void ConfigWatcher::Reload() {
  {
    std::lock_guard lock(mu_);
    reload_requested_ = true;
  }
  cv_.notify_all();
}

void ConfigWatcher::Run() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait_for(lock, poll_interval_, [this] { return stopping_ || reload_requested_; });
    if (stopping_) return;
    bool forced = reload_requested_;
    reload_requested_ = false;
    if (forced) last_stamp_.reset();
    lock.unlock();
    Check();
    lock.lock();
  }
}

void ConfigWatcher::Check() {
  FileStamp stamp;
  struct stat st {};
  if (::stat(path_.c_str(), &st) == 0) {
    stamp.exists = true;
    stamp.inode = st.st_ino;
    stamp.size = st.st_size;
    stamp.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
  }
  if (last_stamp_ && *last_stamp_ == stamp) return;
  last_stamp_ = stamp;

  ServiceSettings previous = Current();
  std::vector<LogField> fields = {{"config.file", path_}};
  if (!stamp.exists) {
    log_->Write(LogLevel::kWarn,
                "config file " + path_ + " not found; keeping " + Describe(previous), {}, fields);
    return;
  }
  std::ifstream in(path_, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) {
    log_->Write(LogLevel::kWarn,
                "config file " + path_ + " cannot be read; keeping " + Describe(previous), {},
                fields);
    return;
  }
  std::string error;
  std::optional<ServiceSettings> parsed = ParseServiceSettings(text.str(), &error);
  if (!parsed) {
    log_->Write(
        LogLevel::kWarn,
        "config file " + path_ + " is invalid (" + error + "); keeping " + Describe(previous), {},
        fields);
    return;
  }
  {
    std::lock_guard lock(mu_);
    settings_ = *parsed;
    ++reloads_;
  }
  fields.emplace_back("failure_rate", parsed->failure_rate);
  fields.emplace_back("latency_ms", parsed->latency_ms);
  log_->Write(LogLevel::kInfo, "config loaded from " + path_ + ": " + Describe(*parsed), {},
              fields);
}

}  // namespace hive::demo
