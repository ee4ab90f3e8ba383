#!/usr/bin/perl
# faultline --db-command for etcd (Debian's etcd-server) in Perl, written from faultline's
# README only: `lifecycle.pl setup|start|teardown`, the node described by FAULTLINE_*
# variables. `start` execs etcd, so the node is this very process: faultline's kill, pause
# and clock faults act on etcd itself.
use strict;
use warnings;

my $action = shift // '';
my %env = map { $_ => ($ENV{"FAULTLINE_$_"} // die "FAULTLINE_$_ is not set\n") }
    qw(NODE HOST CLIENT_PORT PEER_PORT PEERS DATA_DIR);

if ($action eq 'setup') {
    my $found = grep { -x "$_/etcd" } split /:/, $ENV{PATH};
    die "etcd is not installed on $env{NODE}: apt-get install etcd-server\n" unless $found;
    mkdir $env{DATA_DIR} unless -d $env{DATA_DIR};
} elsif ($action eq 'start') {
    # n1=10.0.0.1:2380,n2=... -> n1=http://10.0.0.1:2380,n2=http://...
    (my $cluster = $env{PEERS}) =~ s/=/=http:\/\//g;
    my $client = "http://$env{HOST}:$env{CLIENT_PORT}";
    my $peer = "http://$env{HOST}:$env{PEER_PORT}";
    exec 'etcd', '--name', $env{NODE}, '--data-dir', $env{DATA_DIR},
        '--listen-client-urls', $client, '--advertise-client-urls', $client,
        '--listen-peer-urls', $peer, '--initial-advertise-peer-urls', $peer,
        '--initial-cluster', $cluster, '--initial-cluster-state', 'new',
        '--heartbeat-interval', '100', '--election-timeout', '1000'
        or die "cannot run etcd: $!\n";
} elsif ($action eq 'teardown') {
    # Nothing outlives the node: its data folder is in faultline's run folder.
} else {
    die "usage: $0 setup|start|teardown\n";
}
