// The hive-agent binary as a real process: exec mode (the service as its
// child: output shipped, restarts with backoff, exit code passed on, signals
// forwarded, on_change signals) and kill -9 mid-stream.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "fake_control_plane.h"
#include "process.h"
#include "temp_dir.h"

namespace hive::agent {
namespace {

using hive::testing::AppendFile;
using hive::testing::TempDir;
using hive::testing::WriteFile;
using nlohmann::json;
using testing::FakeControlPlane;

const std::string kAgent = std::string(HIVE_BINARY_DIR) + "/agents/hive-agent";

class ExecTest : public ::testing::Test {
 protected:
  std::string WriteYaml(const std::string& extra) {
    const std::string path = dir_ / "agent.yaml";
    WriteFile(path,
              "service: orders\n"
              "instance: orders-1\n"
              "port: 8081\n"
              "control_plane: " +
                  fake_.url() +
                  "\n"
                  "heartbeat_interval: 200ms\n"
                  "spool:\n"
                  "  dir: " +
                  (dir_ / "spool") + "\n" + extra);
    return path;
  }

  std::vector<std::string> Messages() {
    std::vector<std::string> out;
    for (const auto& e : fake_.events()) out.push_back(e.value("message", ""));
    return out;
  }
  bool HasMessage(const std::string& m) {
    for (const auto& e : Messages()) {
      if (e == m) return true;
    }
    return false;
  }

  TempDir dir_;
  FakeControlPlane fake_;
};

TEST_F(ExecTest, ShipsOutputRestartsAfterFailuresAndPassesTheExitCodeOn) {
  const std::string script =
      "n=$(cat " + (dir_ / "runs") + " 2>/dev/null || echo 0); n=$((n+1)); echo $n > " +
      (dir_ / "runs") +
      "; echo \"{\\\"msg\\\":\\\"run $n\\\",\\\"level\\\":\\\"info\\\"}\"; echo \"oops $n\" >&2; "
      "[ $n -lt 3 ] && exit 3; exit 0";
  hive::testing::ChildProcess agent(
      {kAgent, "--config", WriteYaml(""), "--", "/bin/sh", "-c", script}, dir_ / "agent");
  ASSERT_TRUE(hive::testing::WaitFor([&] { return agent.exit_code().has_value(); },
                                     std::chrono::seconds(15)))
      << agent.Stderr();
  EXPECT_EQ(agent.exit_code(), 0);  // the third run exited 0: not restarted, passed on
  for (const char* m : {"run 1", "run 2", "run 3", "oops 1", "oops 3"}) {
    EXPECT_TRUE(HasMessage(m)) << m;
  }
  for (const auto& e : fake_.events()) {
    if (e["message"] == "oops 2") {
      EXPECT_EQ(e["attrs"]["stream"], "stderr");
    }
    if (e["message"] == "run 2") {
      EXPECT_EQ(e["attrs"]["stream"], "stdout");
    }
  }
  EXPECT_NE(agent.Stdout().find("run 2"), std::string::npos);  // echoed through
  EXPECT_EQ(fake_.deregistrations(), 1);
}

TEST_F(ExecTest, WithRestartNeverAFailureEndsTheAgentWithItsCode) {
  hive::testing::ChildProcess agent({kAgent, "--config", WriteYaml("exec:\n  restart: never\n"),
                                     "--", "/bin/sh", "-c", "echo bye; exit 7"},
                                    dir_ / "agent");
  ASSERT_TRUE(hive::testing::WaitFor([&] { return agent.exit_code().has_value(); },
                                     std::chrono::seconds(10)));
  EXPECT_EQ(agent.exit_code(), 7);
  EXPECT_TRUE(HasMessage("bye"));
}

// The service starts once its config file is written (so no signal can
// reach it before it has a handler), gets on_change's signal for each new
// version, and the agent's own SIGHUP is passed on.
TEST_F(ExecTest, ForwardsSignalsSignalsOnConfigChangeAndStopsInOrder) {
  const std::string file = dir_ / "c.json";
  const std::string script =
      "trap 'echo reloading' HUP; trap 'echo stopping; exit 0' TERM; "
      "[ -s " +
      file +
      " ] && echo started-with-config; echo ready; "
      "while :; do sleep 0.05; done";
  const std::string yaml =
      WriteYaml("config:\n  profile: prod\n  file: " + file + "\n  on_change: { signal: HUP }\n");
  hive::testing::ChildProcess agent({kAgent, "--config", yaml, "--", "/bin/sh", "-c", script},
                                    dir_ / "agent");
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return HasMessage("ready"); }));
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return fake_.registered("orders-1"); }));
  EXPECT_TRUE(HasMessage("started-with-config"));
  const auto count = [&](const std::string& m) {
    int n = 0;
    for (const auto& e : Messages()) n += e == m;
    return n;
  };
  EXPECT_EQ(count("reloading"), 0);  // the first render came before the service
  fake_.PushConfig({{"pool", 5}});
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return count("reloading") == 1; }));
  ::kill(agent.pid(), SIGHUP);  // passed on
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return count("reloading") == 2; }));
  const auto code = agent.Signal(SIGTERM, std::chrono::seconds(10));
  EXPECT_EQ(code, 0);
  EXPECT_TRUE(HasMessage("stopping"));  // the child's last words were shipped before exit
  EXPECT_EQ(fake_.deregistrations(), 1);
}

TEST_F(ExecTest, Kill9MidStreamThenRestartDeliversEveryLineOnce) {
  const std::string yaml = WriteYaml("logs:\n  - path: " + (dir_ / "app.log") + "\n");
  constexpr int kLines = 20000;
  std::atomic<bool> done = false;
  std::thread writer([&] {
    for (int i = 0; i < kLines; ++i) {
      AppendFile(dir_ / "app.log", "{\"seq\":" + std::to_string(i) + ",\"msg\":\"line " +
                                       std::to_string(i) + "\"}\n");
      if (i % 100 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    done = true;
  });
  for (int round = 0; round < 3; ++round) {
    fake_.SetIngestStatus(round == 1 ? 503 : 0);  // batches pile up in the spool
    hive::testing::ChildProcess agent({kAgent, "--config", yaml}, dir_ / "agent");
    std::this_thread::sleep_for(std::chrono::milliseconds(400 + 150 * round));
    ::kill(agent.pid(), SIGKILL);
    ASSERT_TRUE(hive::testing::WaitFor([&] { return agent.exit_code().has_value(); },
                                       std::chrono::seconds(5)));
  }
  fake_.SetIngestStatus(0);
  writer.join();
  hive::testing::ChildProcess agent({kAgent, "--config", yaml}, dir_ / "agent");
  FakeControlPlane::WaitFor([&] { return fake_.events().size() >= kLines; },
                            std::chrono::seconds(30));
  std::multiset<std::string> got;
  for (const auto& m : Messages()) got.insert(m);
  int missing = 0, twice = 0;
  for (int i = 0; i < kLines; ++i) {
    const size_t n = got.count("line " + std::to_string(i));
    missing += n == 0;
    twice += n > 1;
  }
  EXPECT_EQ(missing, 0);
  EXPECT_EQ(twice, 0);
  EXPECT_EQ(got.size(), static_cast<size_t>(kLines));
  EXPECT_EQ(agent.Signal(SIGTERM, std::chrono::seconds(10)), 0);
}

TEST_F(ExecTest, BadConfigurationExitsTwoNamingTheKey) {
  hive::testing::ChildProcess agent(
      {kAgent, "--config", WriteYaml("exec:\n  restart: always\n"), "--", "/bin/true"},
      dir_ / "agent");
  ASSERT_TRUE(hive::testing::WaitFor([&] { return agent.exit_code().has_value(); },
                                     std::chrono::seconds(10)));
  EXPECT_EQ(agent.exit_code(), 2);
  EXPECT_NE(agent.Stderr().find("exec.restart"), std::string::npos);
}

}  // namespace
}  // namespace hive::agent
