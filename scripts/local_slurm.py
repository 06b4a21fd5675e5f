"""A throw-away single-node Slurm cluster on this machine, for testing the Slurm path of the pipeline.

Starts munged, MariaDB, slurmdbd, slurmctld and slurmd (all from Debian's packages, see
scripts/install_slurm.sh) with every file they write under ONE folder: configs, keys, sockets, spool,
state, logs, the accounting database. Nothing in /etc is touched; clients find the cluster through
SLURM_CONF (`env()`), so several such clusters (or a real one) can coexist. Ports are free loopback ports
outside the kernel's ephemeral range (`_free_ports`).

Why slurmdbd + MariaDB and not `AccountingStorageType=accounting_storage/none`: Snakemake's Slurm executor
plugin asks `sacct` for the state of every job it submitted, and `sacct` answers only from the accounting
database (without it: "Slurm accounting storage is disabled"). MariaDB runs as a private instance
(own datadir, loopback port, no grant tables) and adds ~5 s to the start.

The node has the machine's CPUs and memory and, optionally, `gpus` fake GPUs (a GRES without device
files: Slurm schedules `--gpus=N` requests, nothing is bound), so a profile's GPU requests are accepted
and scheduled exactly as on a GPU cluster.

    python scripts/local_slurm.py up   .cache/slurm      # start; prints `export SLURM_CONF=...`
    python scripts/local_slurm.py down .cache/slurm      # cancel every job, stop every daemon
    python scripts/local_slurm.py run  .cache/slurm -- snakemake --workflow-profile profiles/slurm ...

Must run as root (the daemons run as root, SlurmUser=root): it is a test fixture, never a deployment.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

PACKAGES = "slurmctld slurmd slurmdbd slurm-client munge mariadb-server"
BINARIES = (
    "munged",
    "mariadbd",
    "mariadb-install-db",
    "slurmdbd",
    "slurmctld",
    "slurmd",
    "sbatch",
    "sacct",
    "sacctmgr",
    "scontrol",
    "squeue",
    "scancel",
    "sinfo",
)
DAEMONS = ("munged", "mariadbd", "slurmdbd", "slurmctld", "slurmd")  # start order; stopped in reverse


class ClusterError(RuntimeError):
    """The local cluster could not start or stop; the message names the daemon and its log file."""


def missing_binaries() -> list[str]:
    return [b for b in BINARIES if shutil.which(b) is None]


EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
SEARCHED_PORTS = range(10000, 65536)  # above the well-known and most registered service ports


def _ephemeral_range() -> tuple[int, int]:
    """The kernel's range for the local ports of outgoing connections (Linux's default is 32768-60999)."""
    try:
        low, high = map(int, EPHEMERAL_RANGE_FILE.read_text().split())
    except (OSError, ValueError):
        return 32768, 60999
    return low, high


def _free_ports(count: int) -> list[int]:
    """`count` distinct loopback ports, free now and outside the kernel's ephemeral range.

    A port found by binding port 0 comes from the ephemeral range, so between picking it and the daemon
    binding it any outgoing connection (slurmdbd to MariaDB, sacctmgr to slurmdbd, ...) may take it as its
    local port; the daemon then dies with "Address already in use" (CI lost slurmd's port that way). Ports
    outside that range are only ever taken by a process that asks for that number."""
    low, high = _ephemeral_range()
    candidates = [p for p in SEARCHED_PORTS if not low <= p <= high]
    random.SystemRandom().shuffle(candidates)  # several clusters starting at once should not try the same ports
    ports = []
    for port in candidates:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        ports.append(port)
        if len(ports) == count:
            return ports
    raise ClusterError(
        f"found {len(ports)} of {count} free loopback ports in {SEARCHED_PORTS.start}-{SEARCHED_PORTS.stop - 1} "
        f"outside the ephemeral range {low}-{high} ({EPHEMERAL_RANGE_FILE}); free some ports or narrow that range"
    )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped by its parent) is not running
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


class LocalSlurm:
    """One single-node cluster whose state lives under `root` (created if missing).

    `start()` then `stop()`, or use it as a context manager. `stop()` works from another process too
    (pids and ports are kept in files under `root`)."""

    def __init__(
        self,
        root: Path,
        *,
        cluster: str = "adamixtest",
        partition: str = "debug",
        account: str = "adamix",
        gpus: int = 2,
        cpus: int | None = None,
    ):
        self.root = Path(root).resolve()
        self.cluster, self.partition, self.account, self.gpus = cluster, partition, account, gpus
        self.cpus = cpus or os.cpu_count() or 1
        self.node = socket.gethostname().split(".")[0]
        self.conf = self.root / "etc" / "slurm.conf"
        self._procs: dict[str, subprocess.Popen] = {}  # daemons this process started (reaped in stop())

    # ---------------------------------------------------------------- environment for clients
    def env(self, base: dict | None = None) -> dict:
        """`base` (default os.environ) with SLURM_CONF pointing at this cluster (Slurm's client commands and
        the daemons read it) and `<root>/bin` first on PATH (its `srun`, see `_write_srun_shim`)."""
        env = dict(os.environ if base is None else base)
        env["SLURM_CONF"] = str(self.conf)
        env["PATH"] = f"{self.root / 'bin'}{os.pathsep}{env.get('PATH', os.defpath)}"
        return env

    def cmd(self, *argv: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        r = subprocess.run(list(argv), env=self.env(), capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise ClusterError(f"`{' '.join(argv)}` failed ({r.returncode}): {r.stderr.strip() or r.stdout.strip()}")
        return r

    # ---------------------------------------------------------------- start
    def start(self) -> LocalSlurm:
        missing = missing_binaries()
        if missing:
            raise ClusterError(
                f"Slurm is not installed (missing {', '.join(missing)}); install it with "
                f"`bash scripts/install_slurm.sh` (Debian packages: {PACKAGES})"
            )
        if os.geteuid() != 0:
            raise ClusterError("the local test cluster runs its daemons as root; run as root")
        for sub in ("etc", "bin", "log", "run", "munge", "db", "ctld", "spool", "pids"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.root / "munge", 0o700)
        daemons = ("mariadb", "slurmdbd", "slurmctld", "slurmd")
        ports = dict(zip(daemons, _free_ports(len(daemons))))
        try:
            self._start_munge()
            self._start_mariadb(ports["mariadb"])
            self._write_configs(ports)
            self._write_srun_shim()
            self._start("slurmdbd", ["slurmdbd", "-D"])
            self._wait(
                lambda: self.cmd("sacctmgr", "-n", "list", "cluster", check=False).returncode == 0,
                "slurmdbd answering sacctmgr",
                "slurmdbd",
            )
            # the cluster, an account and the user's association must exist before slurmctld registers
            self.cmd("sacctmgr", "-i", "add", "cluster", self.cluster)
            self.cmd(
                "sacctmgr",
                "-i",
                "add",
                "account",
                self.account,
                f"cluster={self.cluster}",
                "Description=test account",
                "Organization=adamix",
            )
            self.cmd(
                "sacctmgr",
                "-i",
                "add",
                "user",
                "root",
                f"account={self.account}",
                f"cluster={self.cluster}",
                f"DefaultAccount={self.account}",
            )
            self._start("slurmctld", ["slurmctld", "-D", "-f", str(self.conf)])
            self._wait(
                lambda: self.cmd("scontrol", "ping", check=False).stdout.count("UP") > 0,
                "slurmctld answering `scontrol ping`",
                "slurmctld",
            )
            self._start("slurmd", ["slurmd", "-D", "-f", str(self.conf), "-N", self.node])
            self._wait(self._node_idle, f"node {self.node} idle in sinfo", "slurmd")
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, name: str, argv: list[str]) -> None:
        log = open(self.root / "log" / f"{name}.out", "ab")
        proc = subprocess.Popen(
            argv,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=self.root,
        )
        log.close()
        self._procs[name] = proc
        (self.root / "pids" / name).write_text(str(proc.pid))

    def _wait(self, ready, what: str, daemon: str, timeout: float = 60) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            pid = self._pid(daemon)
            if pid is None or not _pid_alive(pid):
                raise ClusterError(f"{daemon} exited while waiting for {what}; see {self._log_hint(daemon)}")
            try:
                if ready():
                    return
            except (subprocess.SubprocessError, OSError):
                pass
            time.sleep(0.5)
        raise ClusterError(f"timed out after {timeout:.0f} s waiting for {what}; see {self._log_hint(daemon)}")

    def _log_hint(self, daemon: str) -> str:
        logs = sorted(str(p) for p in (self.root / "log").glob(f"{daemon}*"))
        tail = ""
        for p in logs:
            lines = Path(p).read_text(errors="replace").splitlines()[-8:]
            tail += f"\n--- {p} (last lines)\n" + "\n".join(lines)
        return (", ".join(logs) or str(self.root / "log")) + tail

    def _start_munge(self) -> None:
        key = self.root / "munge" / "munge.key"
        if not key.exists():
            key.write_bytes(os.urandom(1024))
            os.chmod(key, 0o400)
        m = self.root / "munge"
        self._start(
            "munged",
            [
                "munged",
                "-F",
                "--force",
                f"--key-file={key}",
                f"--socket={m / 'munge.sock'}",
                f"--pid-file={m / 'munged.pid'}",
                f"--seed-file={m / 'munged.seed'}",
                f"--log-file={self.root / 'log' / 'munged.log'}",
            ],
        )
        self._wait(lambda: (m / "munge.sock").exists(), "munge socket", "munged", timeout=20)

    def _start_mariadb(self, port: int) -> None:
        datadir = self.root / "db" / "data"
        if not (datadir / "mysql").exists():
            r = subprocess.run(
                [
                    "mariadb-install-db",
                    "--no-defaults",
                    f"--datadir={datadir}",
                    "--user=root",
                    "--auth-root-authentication-method=normal",
                    "--skip-test-db",
                ],
                capture_output=True,
                text=True,
                timeout=180,
            )
            if r.returncode != 0:
                raise ClusterError(f"mariadb-install-db failed: {r.stderr.strip()[-2000:]}")
        (self.root / "pids" / "mariadb_port").write_text(str(port))
        # --skip-grant-tables: a private throw-away database on loopback, no users or passwords needed
        self._start(
            "mariadbd",
            [
                "mariadbd",
                "--no-defaults",
                f"--datadir={datadir}",
                "--user=root",
                "--bind-address=127.0.0.1",
                f"--port={port}",
                "--skip-grant-tables",
                f"--socket={self.root / 'db' / 'mysqld.sock'}",
                f"--pid-file={self.root / 'db' / 'mysqld.pid'}",
                f"--log-error={self.root / 'log' / 'mariadbd.log'}",
                "--innodb-buffer-pool-size=32M",
                "--performance-schema=OFF",
                "--innodb-log-file-size=16M",
            ],
        )

        def up() -> bool:
            with socket.socket() as s:
                s.settimeout(1)
                return s.connect_ex(("127.0.0.1", port)) == 0

        self._wait(up, f"MariaDB on 127.0.0.1:{port}", "mariadbd")

    def _memory_mb(self) -> int:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024 - 512
        return 4096

    def _write_configs(self, ports: dict) -> None:
        r = self.root
        # GPUs are a GRES; AccountingStorageTRES makes sacct's AllocTRES show them (gres/gpu=N)
        gres_types = "GresTypes=gpu\nAccountingStorageTRES=gres/gpu\n" if self.gpus else ""
        node_gres = f" Gres=gpu:{self.gpus}" if self.gpus else ""
        self.conf.write_text(f"""\
# Written by scripts/local_slurm.py: a single-node test cluster, all state under {r}
ClusterName={self.cluster}
SlurmctldHost={self.node}(127.0.0.1)
SlurmctldPort={ports["slurmctld"]}
SlurmdPort={ports["slurmd"]}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={r / "munge" / "munge.sock"}
CredType=cred/munge
StateSaveLocation={r / "ctld"}
SlurmdSpoolDir={r / "spool"}
SlurmctldPidFile={r / "run" / "slurmctld.pid"}
SlurmdPidFile={r / "run" / "slurmd.pid"}
SlurmctldLogFile={r / "log" / "slurmctld.log"}
SlurmdLogFile={r / "log" / "slurmd.log"}
# no cgroups in a container: track job processes by parent pid, no task binding
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
AccountingStoreFlags=job_comment
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort={ports["slurmdbd"]}
AccountingStoragePass={r / "munge" / "munge.sock"}
{gres_types}JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
# a requeued / cancelled job gets SIGTERM, then SIGKILL after KillWait seconds (the engine checkpoints)
KillWait=30
# jobs are requeueable only when submitted with --requeue (as profiles/slurm does), so a test of requeueing
# also tests that the profile asks for it
JobRequeue=0
MinJobAge=300
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=60
NodeName={self.node} NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={self._memory_mb()}{node_gres} State=UNKNOWN
PartitionName={self.partition} Nodes={self.node} Default=YES MaxTime=INFINITE State=UP
""")
        if self.gpus:
            (r / "etc" / "gres.conf").write_text(
                f"AutoDetect=off\nNodeName={self.node} Name=gpu File={self._fake_gpu_devices()}\n"
            )
        dbd = r / "etc" / "slurmdbd.conf"
        dbd.write_text(f"""\
AuthType=auth/munge
AuthInfo=socket={r / "munge" / "munge.sock"}
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort={ports["slurmdbd"]}
SlurmUser=root
PidFile={r / "run" / "slurmdbd.pid"}
LogFile={r / "log" / "slurmdbd.log"}
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={ports["mariadb"]}
StorageUser=root
StorageLoc=slurm_acct_db
""")
        os.chmod(dbd, 0o600)  # slurmdbd refuses a config readable by others

    def _fake_gpu_devices(self) -> str:
        """Slurm drops a GPU GRES without a device file; give each fake GPU a character device equal to
        /dev/null (a plain file if mknod is not allowed: slurmd then logs an error but counts it)."""
        folder = self.root / "fakegpu"
        folder.mkdir(exist_ok=True)
        for i in range(self.gpus):
            dev = folder / f"nvidia{i}"
            if not dev.exists():
                try:
                    os.mknod(dev, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
                except OSError:
                    dev.touch()
        return f"{folder}/nvidia[0-{self.gpus - 1}]"

    def _write_srun_shim(self) -> None:
        """The Slurm jobstep plugin runs each job as `srun ... snakemake ...` with every SLURM_* variable
        removed from srun's environment, SLURM_CONF included (upstream issue
        snakemake-executor-plugin-slurm#164). A real cluster keeps its config in /etc/slurm or serves it
        configless, so srun finds it anyway; this cluster's config lives only in its folder, so jobs see
        this `srun` first on PATH, which puts SLURM_CONF back and runs the real one."""
        real = shutil.which("srun", path=os.environ.get("PATH", os.defpath))
        shim = self.root / "bin" / "srun"
        shim.write_text(f'#!/bin/sh\nSLURM_CONF="{self.conf}" exec "{real}" "$@"\n')
        shim.chmod(0o755)

    def _node_idle(self) -> bool:
        r = self.cmd("sinfo", "-h", "-N", "-o", "%T", check=False)
        return r.returncode == 0 and r.stdout.strip().startswith("idle")

    # ---------------------------------------------------------------- stop
    def _pid(self, name: str) -> int | None:
        f = self.root / "pids" / name
        try:
            return int(f.read_text())
        except (OSError, ValueError):
            return None

    def job_pids(self) -> list[int]:
        """Processes of running jobs on the node (`scontrol listpids`), including slurmstepd."""
        r = self.cmd("scontrol", "listpids", check=False)
        pids = []
        for line in r.stdout.splitlines()[1:]:
            field = line.split()[0] if line.split() else ""
            if field.isdigit():
                pids.append(int(field))
        return pids

    def alive(self) -> dict[str, int]:
        """{daemon: pid} of this cluster's daemons still running."""
        return {d: p for d in DAEMONS if (p := self._pid(d)) is not None and _pid_alive(p)}

    def stop(self, timeout: float = 60) -> None:
        """Cancel every job, wait for the job processes to end, then stop the daemons (SIGTERM, SIGKILL
        after `timeout`). Leaves the folder (logs) in place. Raises if anything survives."""
        if self._pid("slurmctld") and _pid_alive(self._pid("slurmctld")):
            self.cmd("scancel", "--full", "--user=root", check=False)  # our private cluster: every job is ours
            deadline = time.time() + timeout
            while time.time() < deadline and (self.cmd("squeue", "-h", check=False).stdout.strip() or self.job_pids()):
                time.sleep(1)
        steps = [p for p in self.job_pids()] if self._pid("slurmd") and _pid_alive(self._pid("slurmd")) else []
        for name in reversed(DAEMONS):
            pid = self._pid(name)
            if pid is None or not _pid_alive(pid):
                continue
            try:
                os.killpg(pid, signal.SIGTERM)  # its own session: the daemon and anything it forked
            except ProcessLookupError:
                continue
            deadline = time.time() + timeout
            while _pid_alive(pid) and time.time() < deadline:
                time.sleep(0.2)
            if _pid_alive(pid):
                os.killpg(pid, signal.SIGKILL)
                time.sleep(0.5)
            if name in self._procs:
                self._procs.pop(name).wait(timeout=10)
        for pid in steps:  # job processes that outlived the cancel (should be none)
            if _pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
        left = self.alive()
        if left:
            raise ClusterError(f"daemons still running after stop: {left}")

    def __enter__(self) -> LocalSlurm:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("action", choices=["up", "down", "run"])
    ap.add_argument("root", type=Path, help="folder for all of the cluster's state (created)")
    ap.add_argument("--gpus", type=int, default=2, help="fake GPUs on the node (GRES gpu, no devices); default 2")
    ap.add_argument("command", nargs=argparse.REMAINDER, help="run: the command (after --) to run against the cluster")
    args = ap.parse_args(argv)
    cluster = LocalSlurm(args.root, gpus=args.gpus)
    try:
        if args.action == "up":
            cluster.start()
            print(f"export SLURM_CONF={cluster.conf}")
            return 0
        if args.action == "down":
            cluster.stop()
            return 0
        command = args.command[1:] if args.command[:1] == ["--"] else args.command
        if not command:
            ap.error("run needs a command after --")
        with cluster:
            return subprocess.call(command, env=cluster.env())
    except ClusterError as e:
        print(f"local_slurm: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
