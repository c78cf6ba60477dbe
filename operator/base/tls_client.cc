#include "operator/base/tls_client.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

namespace nines {
namespace {

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

BioPtr MemoryBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

}  // namespace

Result<std::vector<X509Ptr>> ParseCertificates(const std::string& pem, const std::string& what) {
  BioPtr bio = MemoryBio(pem);
  std::vector<X509Ptr> certs;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certs.emplace_back(cert);
  }
  ERR_clear_error();  // the read that ended the loop left "no start line"
  if (certs.empty()) return InvalidArgumentError(what + ": no PEM certificate found");
  return certs;
}

Result<KeyPtr> ParsePrivateKey(const std::string& pem, const std::string& what) {
  BioPtr bio = MemoryBio(pem);
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (!key) return InvalidArgumentError(what + ": no (unencrypted) PEM private key found");
  return key;
}

TrustedCas::TrustedCas(std::vector<X509Ptr> certs)
    : certs_(std::move(certs)), stack_(sk_X509_new_null()) {
  for (const X509Ptr& cert : certs_) sk_X509_push(stack_, cert.get());
}

TrustedCas::~TrustedCas() { sk_X509_free(stack_); }  // the certificates belong to certs_

X509_STORE* TrustedCas::NewStore() const {
  X509_STORE* store = X509_STORE_new();
  for (const X509Ptr& cert : certs_) X509_STORE_add_cert(store, cert.get());
  return store;
}

int TrustedCas::Verify(X509_STORE_CTX* context, void* arg) {
  X509_STORE_CTX_set0_trusted_stack(context, static_cast<TrustedCas*>(arg)->stack_);
  return X509_verify_cert(context);
}

Result<std::unique_ptr<httplib::SSLClient>> NewTlsClient(const TlsClientOptions& options) {
  std::unique_ptr<httplib::SSLClient> ssl;
  if (options.client_key != nullptr && options.client_chain != nullptr &&
      !options.client_chain->empty()) {
    const std::vector<X509Ptr>& chain = *options.client_chain;
    // The context takes its own references to the certificate and key.
    ssl = std::make_unique<httplib::SSLClient>(options.host, options.port, chain.front().get(),
                                               options.client_key);
    if (!ssl->is_valid()) {
      ERR_clear_error();
      return InvalidArgumentError(options.client_what + " cannot be used (do they match?)");
    }
    for (size_t i = 1; i < chain.size(); ++i) {
      // Intermediates; SSL_CTX_add_extra_chain_cert takes ownership.
      SSL_CTX_add_extra_chain_cert(ssl->ssl_context(), X509_dup(chain[i].get()));
    }
  } else {
    ssl = std::make_unique<httplib::SSLClient>(options.host, options.port);
  }
  if (options.insecure_skip_tls_verify) {
    ssl->enable_server_certificate_verification(false);
  } else {
    ssl->enable_server_certificate_verification(true);
    if (options.cas != nullptr) {
      ssl->set_ca_cert_store(options.cas->NewStore());
      // OpenSSL's callback takes a non-const argument; Verify only reads it.
      SSL_CTX_set_cert_verify_callback(ssl->ssl_context(), &TrustedCas::Verify,
                                       const_cast<TrustedCas*>(options.cas));
    }
  }
  return ssl;
}

}  // namespace nines
