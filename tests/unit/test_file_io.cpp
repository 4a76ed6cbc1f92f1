
TEST_CASE("file_io: env_file and the token file are bounded reads") {
  TempDir d;
  auto env = d.file("big.env");
  write_text(env, "A=" + std::string((1u << 20) - 2, 'x') + "\n");  // 1 MiB + 1
  auto vars = procd::read_env_file(env);
  REQUIRE_FALSE(vars.ok());
  CHECK(vars.error().message.find("larger than 1048576 bytes") != std::string::npos);
  write_text(env, "A=" + std::string((1u << 20) - 3, 'x') + "\n");  // exactly 1 MiB
  CHECK(procd::read_env_file(env).ok());
  auto token = d.file("token");
  write_text(token, std::string(4097, 't'));
  auto t = procd::read_token_file(token);
  REQUIRE_FALSE(t.ok());
  CHECK(t.error().message.find("larger than 4096 bytes") != std::string::npos);
}
