# tinyml-cosim on Debian 12 with QEMU 7.2, the Arm toolchain and gdb-multiarch.
#   docker build -t tinyml-cosim .
#   docker run --rm -v "$PWD:/work" -w /work tinyml-cosim cosim run --board stm32f405 build/…/app.elf
# For Renode, start from antmicro/renode:1.16.1 instead and `pip install '.[robot]'` (its Python 3.10 is enough;
# constraints.txt pins for Debian 12's 3.11, so on 3.10 pip resolves within pyproject's bounds). Builds go to
# $COSIM_BUILD_DIR, else ~/.cache/tinyml-cosim/build inside the container; `make` sets it to the checkout's build/.
FROM debian:12-slim

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      qemu-system-arm gcc-arm-none-eabi libnewlib-arm-none-eabi gdb-multiarch clang-format espeak-ng sox \
      python3 python3-venv make gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/tinyml-cosim
COPY . .
# The same install as `make venv` (versions from the lock); the stamp tells `make test VENV=/opt/venv` it is done.
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/venv/bin/pip install --no-cache-dir -c constraints.txt -e '.[dev]' \
 && touch /opt/venv/.installed
ENV PATH=/opt/venv/bin:$PATH

CMD ["make", "test", "VENV=/opt/venv"]
