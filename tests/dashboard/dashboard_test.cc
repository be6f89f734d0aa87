#include "hive/dashboard/dashboard.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "hive/core/http_client.h"

namespace hive::dashboard {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

std::string ReadStatic(const std::string& name) {
  return ReadFile(std::string(HIVE_DASHBOARD_STATIC_DIR) + "/" + name);
}

std::string ReadNodeModule(const std::string& name) {
  return ReadFile(std::string(HIVE_NODE_MODULES_DIR) + "/" + name);
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
  EXPECT_NE(ReadNodeModule("cytoscape/package.json").find("\"name\": \"cytoscape\""),
            std::string::npos);
}

TEST_F(DashboardTest, ServesTheEmbeddedFilesWithTheirTypes) {
  Start();
  struct Case {
    std::string target;
    std::string content;
    std::string type;
  };
  const std::string kHtml = "text/html; charset=utf-8";
  const std::string kJs = "text/javascript; charset=utf-8";
  for (const Case& c :
       {Case{"/", ReadStatic("index.html"), kHtml},
        Case{"/ui/index.html", ReadStatic("index.html"), kHtml},
        Case{"/ui/app.js", ReadStatic("app.js"), kJs},
        Case{"/ui/graph.js", ReadStatic("graph.js"), kJs},
        Case{"/ui/style.css", ReadStatic("style.css"), "text/css; charset=utf-8"},
        Case{"/ui/vendor/cytoscape.min.js", ReadNodeModule("cytoscape/dist/cytoscape.min.js"), kJs},
        Case{"/ui/vendor/cytoscape-dagre.min.js",
             ReadNodeModule("cytoscape-dagre/dist/cytoscape-dagre.min.js"), kJs}}) {
    auto r = client_->Get(c.target);
    ASSERT_TRUE(r.ok()) << c.target;
    EXPECT_EQ(r->status, 200) << c.target;
    EXPECT_EQ(r->HeaderValue("Content-Type"), c.type) << c.target;
    EXPECT_EQ(r->HeaderValue("Cache-Control"), "no-cache") << c.target;
    ASSERT_FALSE(c.content.empty()) << c.target;
    EXPECT_EQ(r->body, c.content) << c.target;
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
