#!/usr/bin/env bash
# fetch_data.sh DEST [SRC]: put the datasets where patchgrad's loaders look for them (`make data` runs
# `bash datasets/fetch_data.sh data $(DATA_SRC)`).
#
#   DEST/cifar-10-batches-bin/   data_batch_1..5.bin, test_batch.bin, batches.meta.txt   (CIFAR-10, binary)
#   DEST/mnist/                  train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-...  (MNIST)
#   DEST/fashion-mnist/          the same four names                                  (Fashion-MNIST)
#
# With SRC, a folder laid out like the shared data folder (cifar-10-binary.tar.gz, mnist/*.gz and,
# optionally, fashion-mnist/*.gz), the archives are taken from there; without it they are downloaded from
# the official locations. Fashion-MNIST comes from SRC/fashion-mnist/, else from Debian's package
# dataset-fashion-mnist (/usr/share/datasets/fashion-mnist/, installed with apt-get when we are root), else
# it is skipped with a note.
#
# Every extracted file is checked against the sha256 below (the checksums of the official files) and the
# script fails loudly on a mismatch. A file already in place with the right checksum is left alone, so a
# second run does nothing. Files are written under a temporary name and renamed only once verified, so
# an interrupted run never leaves a half-written file under its final name.
set -euo pipefail

usage() { echo "usage: $0 DEST [SRC]" >&2; exit 2; }
if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
DEST=$1
SRC=${2:-}

die() { echo "fetch_data: error: $*" >&2; exit 1; }
note() { echo "fetch_data: $*"; }

command -v sha256sum >/dev/null || die "sha256sum is missing (Debian: apt-get install coreutils)"
command -v gzip >/dev/null || die "gzip is missing (Debian: apt-get install gzip)"
command -v tar >/dev/null || die "tar is missing (Debian: apt-get install tar)"

# ---- checksums of the official files ------------------------------------------------------------------
# CIFAR-10 and MNIST: the published checksums of the official files (as in the shared data folder's
# SHA256SUMS.extracted). Fashion-MNIST: the sha256 of the decompressed official files (Debian's package
# dataset-fashion-mnist ships the upstream gzip files of zalandoresearch/fashion-mnist).
declare -A SHA256=(
  [cifar-10-batches-bin/data_batch_1.bin]=cee916563c9f80d84e3cc88e17fdc0941787f1244f00a67874d45b261883ada5
  [cifar-10-batches-bin/data_batch_2.bin]=a591ca11fa1708a91ee40f54b3da4784ccd871ecf2137de63f51ada8b3fa57ed
  [cifar-10-batches-bin/data_batch_3.bin]=bbe8596564c0f86427f876058170b84dac6670ddf06d79402899d93ceea26f67
  [cifar-10-batches-bin/data_batch_4.bin]=014e562d6e23c72197cc727519169a60359f5eccd8945ad5a09d710285ff4e48
  [cifar-10-batches-bin/data_batch_5.bin]=755304fc0b379caeae8c14f0dac912fbc7d6cd469eb67a1029a08a39453a9add
  [cifar-10-batches-bin/test_batch.bin]=8e2eb146ae340b09e24670f29cabc6326dba54da8789dab6768acf480273f65b
  [cifar-10-batches-bin/batches.meta.txt]=558e74b5e208382e186da55784b4bac2cd52e558448e1b5800990fdb28ed8033
  [mnist/t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
  [mnist/t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
  [mnist/train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
  [mnist/train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
  [fashion-mnist/t10k-images-idx3-ubyte]=5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b
  [fashion-mnist/t10k-labels-idx1-ubyte]=0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34
  [fashion-mnist/train-images-idx3-ubyte]=c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888
  [fashion-mnist/train-labels-idx1-ubyte]=bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9
)
# The CIFAR-10 archive itself (checked before unpacking, so a corrupt download is caught early).
CIFAR_ARCHIVE_SHA256=3858f7772960115909db3f69474d6f542441c8b9d42d6f6dc4fc7aab7a4460fe

CIFAR_URL=https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz
# MNIST's home page (yann.lecun.com/exdb/mnist) often refuses downloads now; the second location is the
# copy torchvision uses. The checksums decide, not the server.
MNIST_URLS=(https://yann.lecun.com/exdb/mnist https://ossci-datasets.s3.amazonaws.com/mnist)
MNIST_FILES=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
CIFAR_FILES=(data_batch_1.bin data_batch_2.bin data_batch_3.bin data_batch_4.bin data_batch_5.bin
             test_batch.bin batches.meta.txt)

# ---- helpers --------------------------------------------------------------------------------------------
sha_of() { sha256sum "$1" | cut -d' ' -f1; }

# verified REL: DEST/REL exists and has its checksum.
verified() { [ -f "$DEST/$1" ] && [ "$(sha_of "$DEST/$1")" = "${SHA256[$1]}" ]; }

# install_verified TMP REL: check TMP against REL's checksum, then rename it to DEST/REL (atomic within
# one file system). On a mismatch TMP is deleted and the script stops.
install_verified() {
  local tmp=$1 rel=$2 got
  got=$(sha_of "$tmp")
  if [ "$got" != "${SHA256[$rel]}" ]; then
    rm -f "$tmp"
    die "$rel: sha256 $got, expected ${SHA256[$rel]}: the source is corrupt or not the official file"
  fi
  mv -f "$tmp" "$DEST/$rel"
  note "$DEST/$rel: ok (sha256 verified)"
}

# download URL FILE: fetch URL into FILE (a temporary name) with curl or wget.
download() {
  local url=$1 out=$2
  note "downloading $url"
  if command -v curl >/dev/null; then
    curl -fsSL --retry 2 --connect-timeout 20 -o "$out" "$url"
  elif command -v wget >/dev/null; then
    wget -q -O "$out" "$url"
  else
    die "neither curl nor wget is installed (Debian: apt-get install curl)"
  fi
}

download_failed() {
  die "could not download $1 (offline?). Copy the datasets from a folder instead: make data DATA_SRC=/path/to/data (a folder holding cifar-10-binary.tar.gz and mnist/*.gz)"
}

mkdir -p "$DEST"
WORK=$(mktemp -d "$DEST/.fetch.XXXXXX")      # inside DEST, so the final mv is a rename
trap 'rm -rf "$WORK"' EXIT

# ---- CIFAR-10 -------------------------------------------------------------------------------------------
cifar() {
  local missing=() f
  for f in "${CIFAR_FILES[@]}"; do verified "cifar-10-batches-bin/$f" || missing+=("$f"); done
  if [ ${#missing[@]} -eq 0 ]; then note "$DEST/cifar-10-batches-bin: all ${#CIFAR_FILES[@]} files present and verified"; return; fi

  local archive
  if [ -n "$SRC" ]; then
    archive=$SRC/cifar-10-binary.tar.gz
    [ -f "$archive" ] || die "$archive: not found (SRC should hold cifar-10-binary.tar.gz)"
  else
    archive=$WORK/cifar-10-binary.tar.gz
    download "$CIFAR_URL" "$archive" || download_failed "$CIFAR_URL"
  fi
  local got
  got=$(sha_of "$archive")
  [ "$got" = "$CIFAR_ARCHIVE_SHA256" ] || die "$archive: sha256 $got, expected $CIFAR_ARCHIVE_SHA256"

  note "unpacking $archive"
  mkdir -p "$DEST/cifar-10-batches-bin" "$WORK/cifar"
  local members=()
  for f in "${missing[@]}"; do members+=("cifar-10-batches-bin/$f"); done
  tar -xzf "$archive" -C "$WORK/cifar" "${members[@]}"
  for f in "${missing[@]}"; do
    install_verified "$WORK/cifar/cifar-10-batches-bin/$f" "cifar-10-batches-bin/$f"
  done
}

# ---- MNIST and Fashion-MNIST: four gzip files each ----------------------------------------------------
# idx_set NAME GZ_DIR_OR_EMPTY: decompress NAME's four files from GZ_DIR (or download them when empty).
idx_set() {
  local name=$1 from=$2 f gz
  mkdir -p "$DEST/$name"
  for f in "${MNIST_FILES[@]}"; do
    verified "$name/$f" && continue
    if [ -n "$from" ]; then
      gz=$from/$f.gz
      [ -f "$gz" ] || die "$gz: not found"
    else
      gz=$WORK/$f.gz
      local url ok=0
      for url in "${MNIST_URLS[@]}"; do
        if download "$url/$f.gz" "$gz"; then ok=1; break; fi
      done
      [ $ok = 1 ] || download_failed "$f.gz"
    fi
    gzip -dc "$gz" > "$WORK/$f" || die "$gz: not a valid gzip file"
    install_verified "$WORK/$f" "$name/$f"
  done
}

mnist() {
  local all=1 f
  for f in "${MNIST_FILES[@]}"; do verified "mnist/$f" || all=0; done
  if [ $all = 1 ]; then note "$DEST/mnist: all 4 files present and verified"; return; fi
  if [ -n "$SRC" ]; then
    [ -d "$SRC/mnist" ] || die "$SRC/mnist: not found (SRC should hold mnist/*.gz)"
    idx_set mnist "$SRC/mnist"
  else
    idx_set mnist ""
  fi
}

FASHION_SYSTEM=/usr/share/datasets/fashion-mnist
fashion() {
  local all=1 f
  for f in "${MNIST_FILES[@]}"; do verified "fashion-mnist/$f" || all=0; done
  if [ $all = 1 ]; then note "$DEST/fashion-mnist: all 4 files present and verified"; return; fi
  if [ -n "$SRC" ] && [ -d "$SRC/fashion-mnist" ]; then idx_set fashion-mnist "$SRC/fashion-mnist"; return; fi
  if [ ! -f "$FASHION_SYSTEM/train-images-idx3-ubyte.gz" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    note "installing Debian's dataset-fashion-mnist"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null; } ||
      note "could not install dataset-fashion-mnist"
  fi
  if [ -f "$FASHION_SYSTEM/train-images-idx3-ubyte.gz" ]; then
    idx_set fashion-mnist "$FASHION_SYSTEM"
  else
    note "skipping Fashion-MNIST: $FASHION_SYSTEM is missing (install it with: sudo apt-get install dataset-fashion-mnist, then run make data again)"
  fi
}

cifar
mnist
fashion
note "done: datasets under $DEST/"
