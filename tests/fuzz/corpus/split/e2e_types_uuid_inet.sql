-- uuid and network address types.
SELECT 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS u,
       '{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11}'::uuid AS braces_upper,
       md5('pgqfs')::uuid AS from_md5,
       '00000000-0000-0000-0000-000000000000'::uuid AS nil;

SELECT '192.168.1.5/24'::inet AS host_in_net,
       '192.168.1.5'::inet AS host,
       '10.0.0.0/8'::cidr AS net,
       '::1'::inet AS v6_loopback,
       '2001:db8::ff00:42:8329/64'::inet AS v6,
       network('192.168.1.5/24'::inet) AS network,
       host('192.168.1.5/24'::inet) AS host_only,
       '192.168.1.5'::inet << '192.168.0.0/16'::cidr AS contained,
       '08:00:2b:01:02:03'::macaddr AS mac,
       '08:00:2b:01:02:03:04:05'::macaddr8 AS mac8;

CREATE TEMP TABLE corpus_hosts (addr inet PRIMARY KEY, name text);
INSERT INTO corpus_hosts VALUES
    ('10.1.2.3', 'db'), ('10.1.2.10', 'web'), ('10.1.2.2', 'cache'), ('fe80::1', 'v6');
SELECT addr, name, family(addr) AS family, masklen(addr) AS masklen
FROM corpus_hosts
ORDER BY addr;
