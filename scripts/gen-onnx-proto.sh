#!/usr/bin/env bash
# Regenerates Sources/ONNX/Proto/onnx-subset.pb.swift from Sources/ONNX/Proto/onnx-subset.proto (a
# subset of onnx/onnx.proto, Apache-2.0). Run by hand after editing the .proto; never at build time.
# Needs protoc (Debian: apt-get install -y protobuf-compiler) and swift-protobuf's protoc-gen-swift,
# built here from the same swift-protobuf version Package.swift pins, in a scratch folder that is
# git-ignored (.build-protoc/).
#   bash scripts/gen-onnx-proto.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SCRATCH="$ROOT/.build-protoc"
VERSION="${SWIFT_PROTOBUF_VERSION:-1.39.0}"
SRC="${SWIFT_PROTOBUF_SOURCE:-https://github.com/apple/swift-protobuf.git}"
command -v protoc >/dev/null || { echo "protoc not found: apt-get install -y protobuf-compiler" >&2; exit 1; }
mkdir -p "$SCRATCH"
if [ ! -x "$SCRATCH/bin/protoc-gen-swift" ]; then
    rm -rf "$SCRATCH/swift-protobuf"
    git clone -q --depth 1 --branch "$VERSION" "$SRC" "$SCRATCH/swift-protobuf"
    (cd "$SCRATCH/swift-protobuf" && swift build -c release --product protoc-gen-swift 2>&1 | tail -1)
    mkdir -p "$SCRATCH/bin"
    cp "$SCRATCH/swift-protobuf/.build/release/protoc-gen-swift" "$SCRATCH/bin/"
fi
PROTO="$ROOT/Sources/ONNX/Proto"
protoc --plugin=protoc-gen-swift="$SCRATCH/bin/protoc-gen-swift" --proto_path="$PROTO" \
    --swift_out="$PROTO" --swift_opt=Visibility=Internal onnx-subset.proto
echo "wrote $PROTO/onnx-subset.pb.swift"
