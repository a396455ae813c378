#!/bin/sh
# Removes week-old files from /tmp.
find /tmp -xdev -type f -mtime +7 -delete
echo "tidied /tmp"
