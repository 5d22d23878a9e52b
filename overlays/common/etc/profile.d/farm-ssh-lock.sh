# farm: an interactive SSH login holds off the cluster's scheduled shutdown
# (NODE-SPEC.md, "Power cycle"). The lock is taken here, when a login shell
# of an SSH session with a terminal starts, and released when that shell
# exits; it expires on its own (12 hours) should the release never come,
# and a lock whose login session has ended is cleaned up by the node's next
# shutdown or startup. `farm-node status` lists the locks of every node.
#
# A login-shell profile rather than a PAM session hook: sshd opens its PAM
# session once per connection, right after authentication and before it
# knows whether a terminal or a command follows (PAM_TTY is "ssh" then), so
# a PAM hook would lock for every scp, rsync or automation run too. A login
# shell on a terminal is exactly an interactive login.
case $- in *i*) ;; *) return 0 ;; esac
[ -n "${SSH_TTY:-}" ] && [ -z "${FARM_LOCK_SESSION:-}" ] && [ -x /usr/local/bin/farm-node ] ||
	return 0
# Named after what keeps it alive: logind's session, else this shell.
FARM_LOCK_SESSION=${XDG_SESSION_ID:+ssh-$XDG_SESSION_ID}
FARM_LOCK_SESSION=${FARM_LOCK_SESSION:-pid-$$}
export FARM_LOCK_SESSION
sudo -n /usr/local/bin/farm-node lock --session "$FARM_LOCK_SESSION" --for 12h --quiet-ok ||
	echo "farm: could not take the SSH lock: a scheduled shutdown of the cluster may go on (klogin retries)" >&2
trap 'sudo -n /usr/local/bin/farm-node unlock --session "$FARM_LOCK_SESSION" >/dev/null 2>&1' EXIT
