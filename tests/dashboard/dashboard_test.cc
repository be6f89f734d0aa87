#include "hive/dashboard/dashboard.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "hive/core/http_client.h"

namespace hive::dashboard {
namespace {

std::string ReadStatic(const std::string& name) {
  std::ifstream in(std::string(HIVE_DASHBOARD_STATIC_DIR) + "/" + name, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

class DashboardTest : public ::testing::Test {
 protected:
  void Start(std::shared_ptr<const TokenAuthenticator> auth = nullptr) {
    HttpServerOptions options;
    options.port = 0;
    options.worker_threads = 2;
    options.auth = std::move(auth);
    server_ = std::make_unique<HttpServer>(options);
    MountDashboard(*server_);
    ASSERT_TRUE(server_->Start().ok());
    HttpClientOptions client_options;
    client_options.base_url = "http://127.0.0.1:" + std::to_string(server_->port());
    auto client = HttpClient::Create(client_options);
    ASSERT_TRUE(client.ok());
    client_ = std::move(*client);
  }

  void TearDown() override {
    // Close the keep-alive connection first so Stop() need not wait it out.
    client_.reset();
    if (server_) server_->Stop();
  }

  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<HttpClient> client_;
};

TEST(DashboardAssetsTest, SourcesArePresent) {
  // Guards the comparisons below against a wrong HIVE_DASHBOARD_STATIC_DIR.
  EXPECT_NE(ReadStatic("index.html").find("<title>hive"), std::string::npos);
}

TEST_F(DashboardTest, ServesTheEmbeddedFilesWithTheirTypes) {
  Start();
  struct Case {
    std::string target;
    std::string file;
    std::string type;
  };
  for (const Case& c : {Case{"/", "index.html", "text/html; charset=utf-8"},
                        Case{"/ui/index.html", "index.html", "text/html; charset=utf-8"},
                        Case{"/ui/app.js", "app.js", "text/javascript; charset=utf-8"},
                        Case{"/ui/style.css", "style.css", "text/css; charset=utf-8"}}) {
    auto r = client_->Get(c.target);
    ASSERT_TRUE(r.ok()) << c.target;
    EXPECT_EQ(r->status, 200) << c.target;
    EXPECT_EQ(r->HeaderValue("Content-Type"), c.type) << c.target;
    EXPECT_EQ(r->HeaderValue("Cache-Control"), "no-cache") << c.target;
    EXPECT_EQ(r->body, ReadStatic(c.file)) << c.target;
  }
}

TEST_F(DashboardTest, UnknownAssetsAreJson404s) {
  Start();
  for (const char* target : {"/ui/nope.js", "/ui/", "/ui/../CMakeLists.txt", "/ui/static/app.js"}) {
    auto r = client_->Get(target);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 404) << target;
    auto body = nlohmann::json::parse(r->body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << r->body;
    EXPECT_EQ(body["error"]["code"], "not_found") << target;
  }
}

TEST_F(DashboardTest, AssetsArePublicWhenTokensAreRequired) {
  auto auth = std::make_shared<TokenAuthenticator>();
  ASSERT_TRUE(auth->Add("viewer", Role::kReader, "secret").ok());
  Start(auth);
  EXPECT_EQ(client_->Get("/")->status, 200);
  EXPECT_EQ(client_->Get("/ui/app.js")->status, 200);
  EXPECT_EQ(client_->Get("/metrics")->status, 401);  // the API itself still needs a token
}

}  // namespace
}  // namespace hive::dashboard
