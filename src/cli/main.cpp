#include "procd/cli.hpp"

int main(int argc, char** argv) { return procd::cli_main(argc, argv); }
