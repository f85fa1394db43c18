#include "image/reference.h"

#include <gtest/gtest.h>

namespace kiln::image {
namespace {

TEST(ReferenceTest, Placeholder) { EXPECT_TRUE(Reference::Parse("busybox")); }

}  // namespace
}  // namespace kiln::image
