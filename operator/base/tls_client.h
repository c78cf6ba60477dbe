// TLS for the HTTP clients (kube/ and prometheus/): PEM parsing into owned OpenSSL objects, a set
// of trusted CAs that is trusted alone, and cpp-httplib's SSLClient set up with them and with a
// client certificate. One place, so that both clients verify servers the same way.
//
// Thread-safety: TrustedCas is immutable after construction and may be shared by clients on many
// threads; the functions are thread-safe.
#ifndef NINES_BASE_TLS_CLIENT_H_
#define NINES_BASE_TLS_CLIENT_H_

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

#include "operator/base/status.h"

// Debian's libcpp-httplib is built with OpenSSL support; the define changes httplib's types, so
// it must match everywhere (see CMakeLists.txt).
#include <httplib.h>

namespace nines {

struct X509Deleter {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyDeleter>;

// Every certificate in a PEM bundle, in order; InvalidArgument "WHAT: no PEM certificate found"
// when there is none.
Result<std::vector<X509Ptr>> ParseCertificates(const std::string& pem, const std::string& what);

// The (unencrypted) private key in `pem`; InvalidArgument naming `what` when there is none.
Result<KeyPtr> ParsePrivateKey(const std::string& pem, const std::string& what);

// The trusted CAs, and the verification that trusts only them. httplib adds the system's default
// roots to any certificate store it is given, so the store alone would also accept a server
// certificate from any public CA; Verify checks the chain against exactly these.
class TrustedCas {
 public:
  explicit TrustedCas(std::vector<X509Ptr> certs);
  TrustedCas(const TrustedCas&) = delete;
  TrustedCas& operator=(const TrustedCas&) = delete;
  ~TrustedCas();

  // A new store holding the CAs, for SSLClient::set_ca_cert_store (which takes it over).
  X509_STORE* NewStore() const;
  // For SSL_CTX_set_cert_verify_callback, with `arg` a TrustedCas*.
  static int Verify(X509_STORE_CTX* context, void* arg);

 private:
  std::vector<X509Ptr> certs_;
  STACK_OF(X509) * stack_;
};

struct TlsClientOptions {
  std::string host;  // the name the server's certificate must carry (and SNI)
  int port = 443;
  // A client certificate, its intermediates after it, and its key; none when empty.
  const std::vector<X509Ptr>* client_chain = nullptr;
  EVP_PKEY* client_key = nullptr;
  std::string client_what = "client certificate and key";  // for the error message
  // Null: the system's roots. Must outlive the client.
  const TrustedCas* cas = nullptr;
  bool insecure_skip_tls_verify = false;
};

// An SSLClient that presents the client certificate and verifies the server against `cas` (or the
// system's roots), or not at all with insecure_skip_tls_verify. InvalidArgument "CLIENT_WHAT
// cannot be used (do they match?)" when OpenSSL refuses the certificate and key.
Result<std::unique_ptr<httplib::SSLClient>> NewTlsClient(const TlsClientOptions& options);

}  // namespace nines

#endif  // NINES_BASE_TLS_CLIENT_H_
