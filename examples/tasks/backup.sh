#!/bin/sh
# Stands in for the pg-backup container: "dumps the database" for the scheduled date.
set -eu
echo "backing up the database for $2"
sleep 1
echo "backup complete: db-$2.dump"
