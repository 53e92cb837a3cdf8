#!/bin/sh
# What a pgaf host does at boot (the container's command, under docker's init): PM2 comes
# back as the postgres user the way `pm2 startup` would bring it back, with `pm2 resurrect`
# (the saved process list; the module itself is relaunched by the daemon), then the host idles.
# /run/pgaf-boot.done marks the end of the boot sequence (PM2 commands before it could race
# with resurrect's own daemon start).
rm -f /run/pgaf-boot.done
mkdir -p /var/log/pgaf
chown postgres:postgres /var/log/pgaf
if [ -f /var/lib/postgresql/.pm2/dump.pm2 ] || [ -d /var/lib/postgresql/.pm2/modules ]; then
  su postgres -s /bin/sh -c 'cd && pm2 resurrect' >>/var/log/pgaf/boot.log 2>&1
fi
touch /run/pgaf-boot.done
exec sleep infinity
