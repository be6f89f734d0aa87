#include "tls_certs.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

#include "process.h"
#include "temp_dir.h"

namespace hive::testing {
namespace {

// Sections for `openssl req` and `openssl x509`; the system's openssl.cnf
// is not read, so its defaults cannot change the certificates.
constexpr char kConfig[] = R"([req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
[wrong_host]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:elsewhere.example
[client]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
)";

std::string OpensslPath() {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    const std::string candidate = dirs.substr(start, end - start) + "/openssl";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "/usr/bin/openssl";
}

class CertMaker {
 public:
  explicit CertMaker(const std::string& dir) : dir_(dir), openssl_(OpensslPath()) {
    WriteFile(dir_ + "/openssl.cnf", kConfig);
  }

  // A self-signed CA `<name>.pem` with its key `<name>.key`.
  bool MakeCa(const std::string& name, const std::string& common_name) {
    return Run({openssl_,
                "req",
                "-x509",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                Path(name + ".key"),
                "-out",
                Path(name + ".pem"),
                "-days",
                "2",
                "-subj",
                "/CN=" + common_name,
                "-config",
                Path("openssl.cnf"),
                "-extensions",
                "ca"});
  }

  // `<name>.pem` / `<name>.key` signed by the CA `<ca>`, with the extensions
  // of config section `section`.
  bool MakeLeaf(const std::string& name, const std::string& common_name, const std::string& ca,
                const std::string& section) {
    return Run({openssl_, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-nodes", "-keyout", Path(name + ".key"), "-out", Path(name + ".csr"), "-subj",
                "/CN=" + common_name, "-config", Path("openssl.cnf")}) &&
           Run({openssl_, "x509", "-req", "-in", Path(name + ".csr"), "-CA", Path(ca + ".pem"),
                "-CAkey", Path(ca + ".key"), "-set_serial", std::to_string(++serial_), "-days", "2",
                "-out", Path(name + ".pem"), "-extfile", Path("openssl.cnf"), "-extensions",
                section});
  }

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

 private:
  bool Run(const std::vector<std::string>& argv) {
    CommandResult r = RunCommand(argv);
    if (r.exit_code != 0) {
      ADD_FAILURE() << "openssl failed (exit " << r.exit_code << "): " << r.err;
      return false;
    }
    return true;
  }

  std::string dir_;
  std::string openssl_;
  int serial_ = 1;
};

}  // namespace

std::optional<TlsCerts> MakeTlsCerts(const std::string& dir) {
  CertMaker m(dir);
  if (!m.MakeCa("ca", "hive test CA") || !m.MakeLeaf("server", "localhost", "ca", "server") ||
      !m.MakeLeaf("client", "hive test client", "ca", "client") ||
      !m.MakeLeaf("wrong-host", "elsewhere.example", "ca", "wrong_host") ||
      !m.MakeCa("other-ca", "unrelated CA") ||
      !m.MakeLeaf("other-client", "hive test client", "other-ca", "client")) {
    return std::nullopt;
  }
  TlsCerts c;
  c.ca = m.Path("ca.pem");
  c.server_cert = m.Path("server.pem");
  c.server_key = m.Path("server.key");
  c.client_cert = m.Path("client.pem");
  c.client_key = m.Path("client.key");
  c.wrong_host_cert = m.Path("wrong-host.pem");
  c.wrong_host_key = m.Path("wrong-host.key");
  c.other_ca = m.Path("other-ca.pem");
  c.other_client_cert = m.Path("other-client.pem");
  c.other_client_key = m.Path("other-client.key");
  return c;
}

}  // namespace hive::testing
