-- The statements of stationlab/storage/roles.py: a block starts with "-- name: <name>"
-- and runs to the next one. Parameters are always bound (%(name)s).

-- name: role_exists
SELECT 1 FROM pg_roles WHERE rolname = %(name)s

-- name: role_create_login
CREATE ROLE {name} LOGIN IN ROLE {group}

-- name: role_grant
GRANT {group} TO {name}

-- name: role_memberships
SELECT g.rolname FROM pg_auth_members m
JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
WHERE u.rolname = %(name)s AND g.rolname LIKE 'stationlab\_%%'
ORDER BY g.rolname

-- name: role_revoke
REVOKE {group} FROM {name}

-- name: role_set_password
ALTER ROLE {name} PASSWORD {password}

-- name: role_grant_connect
GRANT CONNECT ON DATABASE {database} TO {name}
