#!/bin/sh
# Starts the demo Dovecot: one user, DEMO_USER, whose password is the compose secret
# imap-password (the same file Instroom logs in with). On the first start its INBOX gets
# the demo mails mounted at /demo/mail; later starts keep the mailbox as it is (volume).
set -eu
: "${DEMO_USER:?set DEMO_USER}"
printf '%s:{PLAIN}%s\n' "$DEMO_USER" "$(cat /run/secrets/imap-password)" >/etc/dovecot/users
chown root:dovecot /etc/dovecot/users
chmod 0640 /etc/dovecot/users

home=/srv/mail/$DEMO_USER
if [ ! -d "$home/Maildir" ]; then
	mkdir -p "$home/Maildir/cur" "$home/Maildir/new" "$home/Maildir/tmp"
	for f in /demo/mail/*.eml; do
		[ -f "$f" ] && cp "$f" "$home/Maildir/new/$(basename "$f" .eml).demo"
	done
	chown -R vmail:vmail "$home"
	echo "demo mailbox $DEMO_USER created with $(ls "$home/Maildir/new" | wc -l) mail(s)"
fi
exec dovecot -F
