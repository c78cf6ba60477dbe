# The nines image: the operator (and the generate/validate/version commands) on a distroless base.
#
#   docker build -t nines:0.1.0 .
#   docker run --rm nines:0.1.0 version
#
# The build stage runs exactly what the test command runs (scripts/setup.sh, then
# scripts/build-release.sh, whose Release build scripts/test.sh tests), so the image carries the
# binary the tests tested; e2e/chart_test.sh checks that these RUN lines stay so.

# ---- build: Debian 12, the same release as the runtime base (one glibc, one libstdc++)
FROM debian:bookworm AS build
WORKDIR /src
COPY . .
RUN scripts/setup.sh
RUN scripts/build-release.sh /out

# ---- runtime: glibc, libssl, libstdc++ and CA certificates, no shell, uid 65532
# build-release.sh copied beside /nines the libraries this base lacks (libyaml-cpp,
# libcpp-httplib, zlib, brotli), into /usr/lib/<multiarch>/.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/rootfs/ /
USER 65532:65532
ENTRYPOINT ["/nines"]
CMD ["operator"]
