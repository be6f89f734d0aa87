#include "hive_processes.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace hive::testing {

HivedProcess::HivedProcess(const std::string& dir, std::vector<std::string> extra_args) {
  std::vector<std::string> argv = {BinaryPath("hived/hived"), "--listen", "127.0.0.1:0",
                                   "--data-dir", dir + "/data"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  process_ = std::make_unique<ChildProcess>(argv, dir + "/hived");
  auto line = process_->WaitForLine("\"msg\":\"listening\"", true, std::chrono::seconds(15));
  if (!line) return;
  auto j = nlohmann::json::parse(*line, nullptr, false);
  if (j.is_object() && j.contains("addr")) {
    url_ = j.value("scheme", "http") + "://" + j["addr"].get<std::string>();
  }
}

std::unique_ptr<HttpClient> ClientFor(const std::string& url, std::string token) {
  return std::move(HttpClient::Create({.base_url = url, .bearer_token = std::move(token)}).value());
}

void ExpectJsonError(const Result<HttpClientResponse>& r, int status, const std::string& what) {
  ASSERT_TRUE(r.ok()) << what;
  EXPECT_EQ(r->status, status) << what << ": " << r->body;
  nlohmann::json j = nlohmann::json::parse(r->body, nullptr, false);
  ASSERT_TRUE(j.is_object() && j.contains("error")) << what << ": " << r->body;
  EXPECT_TRUE(j["error"]["code"].is_string()) << what;
  EXPECT_FALSE(j["error"]["message"].get<std::string>().empty()) << what;
}

}  // namespace hive::testing
