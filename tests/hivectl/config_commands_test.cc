// hivectl's config and audit commands against a real config store (SQLite on
// disk, HTTP on port 0) and a stand-in registry route for `push --wait`.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "hive/config_store/config_store_service.h"
#include "hive/core/http.h"
#include "hive/core/http_client.h"
#include "hive/ctl/hivectl.h"
#include "temp_dir.h"

namespace hive::ctl {
// A namespace of its own: a unity build compiles it with same-named helpers.
namespace config_commands_test {
namespace {

using nlohmann::json;

constexpr char kAdmin[] = "admin-token";
constexpr char kOperator[] = "operator-token";
constexpr char kReader[] = "reader-token";
constexpr char kAgent[] = "agent-token";
constexpr char kKey[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

struct RunResult {
  int code = -1;
  std::string out;
  std::string err;
};

class ConfigCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_store::ConfigStoreOptions options;
    options.data_dir = dir_.path();
    auto box = config_store::SecretBox::FromKeyText(kKey);
    ASSERT_TRUE(box.ok());
    options.secrets = std::make_shared<config_store::SecretBox>(*box);
    auto service = config_store::ConfigStoreService::Open(options);
    ASSERT_TRUE(service.ok()) << service.status().ToString();
    service_ = std::move(*service);

    HttpServerOptions server_options;
    server_options.port = 0;
    server_options.worker_threads = 8;
    server_options.access_log = AccessLog::kNone;
    auto auth = std::make_shared<TokenAuthenticator>();
    ASSERT_TRUE(auth->Add("root", Role::kAdmin, kAdmin).ok());
    ASSERT_TRUE(auth->Add("ci-deployer", Role::kOperator, kOperator).ok());
    ASSERT_TRUE(auth->Add("dashboard", Role::kReader, kReader).ok());
    ASSERT_TRUE(auth->Add("payments-agent", Role::kAgent, kAgent).ok());
    server_options.auth = auth;
    server_ = std::make_unique<HttpServer>(server_options);
    service_->Mount(*server_);
    // The registry's answer for `push --wait`: the healthy instances.
    server_->Route("GET", "/api/v1/services/{service}", {Access::kRead},
                   [this](const HttpRequest& req, HttpResponse& res) {
                     EXPECT_EQ(req.Query("healthy"), "true");
                     json instances = json::array();
                     std::lock_guard lock(mu_);
                     for (const auto& id : healthy_) instances.push_back({{"id", id}});
                     res.SetJson(json{
                         {"service", req.PathParam("service")},
                         {"index", 1},
                         {"instances",
                          instances}}.dump());
                   });
    ASSERT_TRUE(server_->Start().ok());
    env_.vars["HIVE_ADDR"] = "http://127.0.0.1:" + std::to_string(server_->port());
    env_.vars["HIVE_TOKEN"] = kOperator;
  }

  void TearDown() override {
    service_->Stop();
    server_->Stop();
  }

  RunResult Run(std::vector<std::string> args, const std::string& token = kOperator) {
    args.insert(args.begin(), "hivectl");
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    CtlEnvironment env = env_;
    env.vars["HIVE_TOKEN"] = token;
    std::ostringstream out, err;
    RunResult r;
    r.code = RunHivectl(static_cast<int>(argv.size()), argv.data(), env, out, err);
    r.out = out.str();
    r.err = err.str();
    return r;
  }

  std::string WriteFile(const std::string& name, const std::string& content) {
    const std::string path = dir_ / name;
    hive::testing::WriteFile(path, content);
    return path;
  }

  // What an agent does: report `status` for `version` of payments/prod.
  void Report(const std::string& instance, int64_t version, const std::string& status,
              const std::string& message = "") {
    HttpClientOptions o;
    o.base_url = env_.vars["HIVE_ADDR"];
    o.bearer_token = kAgent;
    auto client = HttpClient::Create(o);
    ASSERT_TRUE(client.ok());
    auto r = (*client)->Send(
        "PUT", "/api/v1/config/payments/prod/applied/" + instance,
        json{{"version", version}, {"status", status}, {"message", message}}.dump());
    ASSERT_TRUE(r.ok() && r->ok()) << (r.ok() ? r->body : r.status().ToString());
  }

  void SetHealthy(std::vector<std::string> ids) {
    std::lock_guard lock(mu_);
    healthy_ = std::move(ids);
  }

  hive::testing::TempDir dir_;
  CtlEnvironment env_;
  std::unique_ptr<config_store::ConfigStoreService> service_;
  std::unique_ptr<HttpServer> server_;
  std::mutex mu_;
  std::vector<std::string> healthy_;
};

TEST_F(ConfigCommandsTest, PushesYamlAndPropertiesFilesWithTheirContentType) {
  const std::string yaml = WriteFile("payments.yaml", "db:\n  pool:\n    size: 5\nmode: fast\n");
  RunResult r = Run({"config", "push", "payments", "--profile", "prod", yaml, "-m", "first"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "payments/prod: version 1\n+ db.pool.size=5\n+ mode=fast\n");

  const std::string props = WriteFile("payments.properties", "db.pool.size=6\nmode=fast\n");
  r = Run({"config", "push", "payments", "--profile", "prod", props});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "payments/prod: version 2\n~ db.pool.size: 5 → 6\n")
      << "a .properties value is a string: the number 5 became \"6\"; mode stayed \"fast\"";

  const std::string bad = WriteFile("bad.yaml", "a: [1\n");
  r = Run({"config", "push", "payments", "--profile", "prod", bad});
  EXPECT_EQ(r.code, kExitServerError);
  EXPECT_NE(r.err.find("malformed YAML at line"), std::string::npos) << r.err;

  r = Run({"config", "push", "payments", "--profile", "prod", WriteFile("x.toml", "a=1")});
  EXPECT_EQ(r.code, kExitUsage);
  r = Run({"config", "push", "payments", "--profile", "prod", yaml, "--secret", "pw=x"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_NE(r.err.find("{secret}"), std::string::npos) << r.err;
  RunResult history = Run({"config", "history", "payments", "--profile", "prod", "-o", "json"});
  EXPECT_EQ(json::parse(history.out)["versions"].size(), 2u) << "rejected pushes wrote nothing";
}

TEST_F(ConfigCommandsTest, GetPrintsJsonYamlPropertiesAndOneKey) {
  ASSERT_EQ(
      Run({"config", "push", "payments", "--profile", "prod", "rate=0.5", "name=a b", "on=true"})
          .code,
      kExitOk);
  RunResult yaml = Run({"config", "get", "payments", "--profile", "prod", "-o", "yaml"});
  EXPECT_EQ(yaml.out, "name: \"a b\"\non: true\nrate: 0.5\n");
  RunResult props = Run({"config", "get", "payments", "--profile", "prod", "-o", "properties"});
  EXPECT_EQ(props.out, "name=a b\non=true\nrate=0.5\n");
  RunResult one =
      Run({"config", "get", "payments", "--profile", "prod", "--key", "rate", "-o", "properties"});
  EXPECT_EQ(one.out, "rate=0.5\n");
  RunResult as_json = Run({"config", "get", "payments", "--profile", "prod", "-o", "json"});
  EXPECT_EQ(json::parse(as_json.out)["properties"]["rate"], 0.5);
  RunResult table = Run({"config", "get", "payments", "--profile", "prod", "--key", "name"});
  EXPECT_EQ(table.out, "KEY   VALUE  SOURCE\nname  a b    payments/prod\n");
}

TEST_F(ConfigCommandsTest, DryRunDiffsAgainstTheDocumentNotTheMerge) {
  ASSERT_EQ(Run({"config", "push", "application", "--profile", "default", "shared=1"}).code,
            kExitOk);
  ASSERT_EQ(Run({"config", "push", "payments", "--profile", "prod", "a=1", "b=2"}).code, kExitOk);
  RunResult dry =
      Run({"config", "push", "payments", "--profile", "prod", "a=5", "c=3", "--dry-run"});
  ASSERT_EQ(dry.code, kExitOk) << dry.err;
  EXPECT_EQ(dry.out,
            "payments/prod: dry run against version 1; nothing pushed\n"
            "~ a: 1 → 5\n"
            "- b=2\n"
            "+ c=3\n");
  RunResult same =
      Run({"config", "push", "payments", "--profile", "prod", "a=1", "b=2", "--dry-run"});
  EXPECT_EQ(same.out, "payments/prod: no changes (version 1); nothing pushed\n");
  RunResult stale = Run(
      {"config", "push", "payments", "--profile", "prod", "a=1", "--dry-run", "--if-version", "7"});
  EXPECT_EQ(stale.code, kExitServerError);
  EXPECT_NE(stale.err.find("at version 1, not 7"), std::string::npos) << stale.err;
  RunResult history = Run({"config", "history", "payments", "--profile", "prod", "-o", "json"});
  EXPECT_EQ(json::parse(history.out)["versions"].size(), 1u);
}

TEST_F(ConfigCommandsTest, SecretsAreRedactedForReadersAndClearForAdmins) {
  RunResult push = Run({"config", "push", "payments", "--profile", "prod", "user=app", "--secret",
                        "db.password=hunter2"});
  ASSERT_EQ(push.code, kExitOk) << push.err;
  EXPECT_EQ(push.out.find("hunter2"), std::string::npos) << push.out;
  RunResult reader =
      Run({"config", "get", "payments", "--profile", "prod", "-o", "properties"}, kReader);
  EXPECT_EQ(reader.out, "db.password=<redacted>\nuser=app\n");
  RunResult admin =
      Run({"config", "get", "payments", "--profile", "prod", "-o", "properties"}, kAdmin);
  EXPECT_EQ(admin.out, "db.password=hunter2\nuser=app\n");
  RunResult audit = Run({"audit", "-o", "json"}, kAdmin);
  EXPECT_EQ(audit.out.find("hunter2"), std::string::npos);
}

TEST_F(ConfigCommandsTest, DiffRollbackDeleteAndAudit) {
  ASSERT_EQ(Run({"config", "push", "payments", "--profile", "prod", "a=1", "b=1"}).code, kExitOk);
  ASSERT_EQ(Run({"config", "push", "payments", "--profile", "prod", "a=2", "c=1"}).code, kExitOk);
  RunResult diff = Run({"config", "diff", "payments", "--profile", "prod"}, kReader);
  EXPECT_EQ(diff.out, "payments/prod: version 1 → 2\n~ a: 1 → 2\n- b=1\n+ c=1\n");
  RunResult explicit_diff =
      Run({"config", "diff", "payments", "--profile", "prod", "--from", "2", "--to", "1"});
  EXPECT_EQ(explicit_diff.out, "payments/prod: version 2 → 1\n~ a: 2 → 1\n+ b=1\n- c=1\n");

  RunResult rollback =
      Run({"config", "rollback", "payments", "--profile", "prod", "--to", "1", "-m", "undo"});
  ASSERT_EQ(rollback.code, kExitOk) << rollback.err;
  EXPECT_EQ(rollback.out,
            "payments/prod: rolled back to version 1, now version 3\n~ a: 2 → 1\n+ b=1\n- c=1\n");
  RunResult del = Run({"config", "delete", "payments", "--profile", "prod", "--if-version", "3"});
  ASSERT_EQ(del.code, kExitOk) << del.err;
  EXPECT_EQ(del.out, "payments/prod: deleted at version 4\n");
  EXPECT_EQ(Run({"config", "delete", "payments", "--profile", "prod"}).code, kExitServerError);
  RunResult history = Run({"config", "history", "payments", "--profile", "prod"});
  EXPECT_NE(history.out.find("(deleted) delete"), std::string::npos) << history.out;
  EXPECT_EQ(Run({"config", "delete", "payments", "--profile", "prod"}, kReader).code,
            kExitServerError);

  RunResult audit = Run({"audit", "--app", "payments", "--limit", "2"}, kReader);
  ASSERT_EQ(audit.code, kExitOk) << audit.err;
  EXPECT_NE(audit.out.find("ci-deployer  delete    payments/prod  4        -a -b"),
            std::string::npos)
      << audit.out;
  EXPECT_NE(audit.out.find("rollback"), std::string::npos);
  EXPECT_EQ(audit.out.find("  push  "), std::string::npos) << "--limit 2 keeps the newest two";
  EXPECT_EQ(Run({"audit", "--app", "Bad!"}).code, kExitUsage);
}

TEST_F(ConfigCommandsTest, PushWaitEndsWhenEveryHealthyInstanceApplied) {
  SetHealthy({"payments-1", "payments-2"});
  Report("payments-3", 0, "failed", "not healthy, so not waited for");
  std::atomic<bool> done = false;
  std::thread agents([&] {
    // Apply once version 1 exists, as the agents' watches would.
    while (!done) {
      auto v = service_->store().CurrentVersion("payments", "prod");
      if (v.ok() && *v == 1) {
        Report("payments-1", 1, "applied");
        Report("payments-2", 1, "applied");
        return;
      }
      std::this_thread::yield();
    }
  });
  RunResult r =
      Run({"config", "push", "payments", "--profile", "prod", "a=1", "--wait", "--timeout", "20s"});
  done = true;
  agents.join();
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_NE(r.out.find("2/2 healthy instances applied version 1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("version 1 applied by every healthy instance"), std::string::npos);
}

TEST_F(ConfigCommandsTest, PushWaitFailsOnAFailedReport) {
  SetHealthy({"payments-1", "payments-2"});
  std::atomic<bool> done = false;
  std::thread agents([&] {
    while (!done) {
      auto v = service_->store().CurrentVersion("payments", "prod");
      if (v.ok() && *v == 1) {
        Report("payments-1", 1, "applied");
        Report("payments-2", 1, "failed", "on_change: exit status 3");
        return;
      }
      std::this_thread::yield();
    }
  });
  RunResult r =
      Run({"config", "push", "payments", "--profile", "prod", "a=1", "--wait", "--timeout", "20s"});
  done = true;
  agents.join();
  EXPECT_EQ(r.code, kExitServerError);
  EXPECT_NE(
      r.err.find("payments-2 failed to apply payments/prod version 1: on_change: exit status 3"),
      std::string::npos)
      << r.err;
}

TEST_F(ConfigCommandsTest, PushWaitTimesOutNamingTheLaggards) {
  SetHealthy({"payments-1", "payments-2"});
  RunResult r = Run(
      {"config", "push", "payments", "--profile", "prod", "a=1", "--wait", "--timeout", "300ms"});
  EXPECT_EQ(r.code, kExitServerError);
  EXPECT_NE(r.out.find("0/2 healthy instances applied version 1"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("timed out after 300ms"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("payments-1, payments-2"), std::string::npos) << r.err;

  SetHealthy({});
  RunResult none = Run({"config", "push", "payments", "--profile", "prod", "a=2", "--wait"});
  EXPECT_EQ(none.code, kExitOk) << none.err;
  EXPECT_NE(none.out.find("0/0"), std::string::npos);
}

TEST_F(ConfigCommandsTest, RolloutTable) {
  ASSERT_EQ(Run({"config", "push", "payments", "--profile", "prod", "a=1"}).code, kExitOk);
  Report("payments-1", 1, "applied");
  RunResult r = Run({"config", "rollout", "payments", "--profile", "prod"}, kReader);
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_NE(r.out.find("payments/prod: current version 1\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("payments-1  1        applied"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace config_commands_test
}  // namespace hive::ctl
