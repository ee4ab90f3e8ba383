#!/bin/sh
# PID 1 of a faultline node container: makes this container's own SSH host keys, installs
# the public key mounted at /run/faultline/authorized_keys for root and the `faultline`
# user, and runs sshd in the foreground.
set -eu
ssh-keygen -A >/dev/null
mkdir -p /run/sshd
chmod 0755 /run/sshd
if [ -f /run/faultline/authorized_keys ]; then
  for home in /root /home/faultline; do
    mkdir -p "$home/.ssh"
    cp /run/faultline/authorized_keys "$home/.ssh/authorized_keys"
    chmod 0700 "$home/.ssh"
    chmod 0600 "$home/.ssh/authorized_keys"
  done
  chown -R faultline:faultline /home/faultline/.ssh
fi
exec /usr/sbin/sshd -D -e
