// `orderly user` as the installer runs it: the first admin with a password from stdin, a
// generated one printed once, a platform token, list, reset and remove, and the errors.
#include <gtest/gtest.h>

#include <cstdio>
#include <sys/wait.h>

#include "orderly/gateway/accounts.hpp"
#include "orderly/test/support.hpp"

namespace orderly {
namespace {

struct CliRun {
  int exit_code = -1;
  std::string out;
};

CliRun orderly_user(const std::string& args, const std::string& stdin_text = "") {
  const std::string cmd = (stdin_text.empty() ? std::string() : "printf '%s\\n' '" + stdin_text + "' | ") +
                          test::orderly_binary().string() + " user " + args + " 2>&1";
  CliRun run;
  FILE* p = ::popen(cmd.c_str(), "r");
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) run.out += buf;
  const int status = ::pclose(p);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

TEST(UserCli, TheInstallerMakesTheFirstAdminAndManagesAccounts) {
  test::TempDir dir;
  const std::string db = " --db " + (dir / "orderly.db").string();
  const CliRun admin = orderly_user("add root --role admin --password-stdin" + db, "chosen by installer");
  ASSERT_EQ(admin.exit_code, 0) << admin.out;
  EXPECT_NE(admin.out.find("chosen by installer"), std::string::npos) << "printed once, to be handed over";

  const CliRun op = orderly_user("add op --role operator" + db);
  ASSERT_EQ(op.exit_code, 0) << op.out;
  const std::string generated = op.out.substr(op.out.rfind('\n', op.out.size() - 2) + 1, 16);
  const CliRun city = orderly_user("add city --role platform" + db);
  ASSERT_EQ(city.exit_code, 0) << city.out;
  EXPECT_NE(city.out.find("Authorization: Bearer"), std::string::npos) << city.out;

  {
    gateway::Accounts accounts(dir / "orderly.db");
    EXPECT_TRUE(gateway::password_matches(*accounts.password_hash("root"), "chosen by installer"));
    EXPECT_TRUE(gateway::password_matches(*accounts.password_hash("op"), generated)) << op.out;
  }
  const CliRun list = orderly_user("list" + db);
  EXPECT_EQ(list.exit_code, 0);
  for (const char* name : {"root", "op", "city"}) EXPECT_NE(list.out.find(name), std::string::npos) << list.out;

  EXPECT_EQ(orderly_user("reset op --password-stdin" + db, "a new password").exit_code, 0);
  {
    gateway::Accounts accounts(dir / "orderly.db");
    EXPECT_TRUE(gateway::password_matches(*accounts.password_hash("op"), "a new password"));
  }
  EXPECT_EQ(orderly_user("remove op" + db).exit_code, 0);
  EXPECT_EQ(orderly_user("list" + db).out.find("op "), std::string::npos);

  const CliRun no_household = orderly_user("add wang --role resident" + db);
  EXPECT_EQ(no_household.exit_code, 2);
  EXPECT_NE(no_household.out.find("--household"), std::string::npos) << no_household.out;
  const CliRun bad_role = orderly_user("add x --role boss" + db);
  EXPECT_EQ(bad_role.exit_code, 2);
  EXPECT_NE(bad_role.out.find("--role"), std::string::npos);
  EXPECT_EQ(orderly_user("remove nobody" + db).exit_code, 1);
  EXPECT_EQ(orderly_user("add x --role admin").exit_code, 2) << "no store named";
}

}  // namespace
}  // namespace orderly
