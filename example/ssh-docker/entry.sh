#!/bin/sh
# Prepares sshd (host keys, privilege separation directory, root's authorized
# keys from $SSH_AUTHORIZED_KEYS), then becomes wingmate.  With arguments it
# runs them instead, after the same preparation.
set -e
ssh-keygen -A >/dev/null
mkdir -p /run/sshd
if [ -n "${SSH_AUTHORIZED_KEYS:-}" ]; then
    mkdir -p -m 700 /root/.ssh
    printf '%s\n' "$SSH_AUTHORIZED_KEYS" >/root/.ssh/authorized_keys
    chmod 600 /root/.ssh/authorized_keys
fi
if [ "$#" -gt 0 ]; then
    exec "$@"
fi
exec /usr/local/bin/wingmate
