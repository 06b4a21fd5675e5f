#!/usr/bin/env bash
# Install what the local Slurm test cluster (scripts/local_slurm.py, `make cluster-test`) needs, from
# Debian's packages: Slurm's daemons and clients, munge, and MariaDB for slurmdbd (sacct). Idempotent:
# installs nothing when every program is already there. Needs root (apt-get); no daemon is started or
# enabled here: the test starts its own, with all state in a temporary folder.
set -euo pipefail
need=(munged mariadbd mariadb-install-db slurmdbd slurmctld slurmd sbatch sacct sacctmgr scontrol squeue scancel sinfo)
missing=()
for prog in "${need[@]}"; do
    command -v "$prog" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$prog" >/dev/null 2>&1 || missing+=("$prog")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
echo "install_slurm.sh: missing ${missing[*]}; installing Debian packages" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends slurmctld slurmd slurmdbd slurm-client munge mariadb-server >/dev/null
