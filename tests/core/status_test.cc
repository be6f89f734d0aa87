#include "hive/core/status.h"

#include <gtest/gtest.h>

namespace hive {
namespace {

Status Fails() { return Status::NotFound("no such thing"); }
Status Propagates() {
  HIVE_RETURN_IF_ERROR(Fails());
  return Status::Internal("not reached");
}

TEST(StatusTest, OkByDefault) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "ok");
}

TEST(StatusTest, CarriesCodeAndMessage) {
  Status s = Status::Aborted("version 3 is not current");
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(s.IsAborted());
  EXPECT_EQ(s.ToString(), "aborted: version 3 is not current");
  EXPECT_EQ(s.WithContext("push").message(), "push: version 3 is not current");
}

TEST(StatusTest, ReturnIfErrorPropagates) { EXPECT_TRUE(Propagates().IsNotFound()); }

TEST(ResultTest, HoldsValueOrStatus) {
  Result<int> good = 42;
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 42);
  EXPECT_TRUE(good.status().ok());
  Result<int> bad = Status::InvalidArgument("nope");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.status().IsInvalidArgument());
}

}  // namespace
}  // namespace hive
