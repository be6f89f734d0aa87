#include <iostream>

#include "hive/ctl/hivectl.h"

int main(int argc, char** argv) {
  return hive::ctl::RunHivectl(argc, argv, hive::ctl::ProcessEnvironment(), std::cout, std::cerr);
}
