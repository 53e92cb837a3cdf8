-- Validation of every name and host that enters through the SQL API (issue #10.1). Host names
-- reach every peer's pg_hba.conf and primary_conninfo; names reach logs, events and terminals.
-- Each check raises invalid_parameter_value naming the argument, before anything changes.

-- A value as it may appear in an error message: at most 64 characters, control characters
-- escaped (JSON string syntax), so that a hostile value cannot forge a log line.
CREATE FUNCTION pgautofailover.printable(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT to_json(CASE WHEN length(value) > 64 THEN left(value, 64) || '…' ELSE value END)::text
$$;

-- Words that mean something in a pg_hba.conf field (address, database or user column).
CREATE FUNCTION pgautofailover.is_hba_keyword(value text) RETURNS bool
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT lower(value) IN ('all', 'samehost', 'samenet', 'replication', 'sameuser', 'samerole', 'samegroup')
$$;

-- Why `value` is not an IPv4 or IPv6 literal or an RFC 1123 host name (NULL: it is one).
CREATE FUNCTION pgautofailover.hostname_problem(value text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  label text;
BEGIN
  IF value = '' THEN
    RETURN 'it is empty';
  ELSIF length(value) > 253 THEN
    RETURN format('it is %s characters long, at most 253 are allowed', length(value));
  ELSIF value ~ '[[:cntrl:]]' THEN
    RETURN 'it contains a control character';
  ELSIF value ~ '\s' THEN
    RETURN 'it contains white space';
  ELSIF value ~ '^[0-9.]+$' THEN
    -- all digits and dots: it must be a dotted-quad IPv4 address
    IF value !~ '^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$' THEN
      RETURN 'it is not a valid IPv4 address';
    END IF;
    RETURN NULL;
  ELSIF value ~ ':' THEN
    -- an IPv6 literal: hex digits, colons and an optional trailing dotted quad, no prefix or zone
    IF value !~ '^[0-9A-Fa-f:.]+$' THEN
      RETURN 'it is not a valid IPv6 address';
    END IF;
    BEGIN
      IF masklen(value::inet) <> 128 OR family(value::inet) <> 6 THEN
        RETURN 'it is not a valid IPv6 address';
      END IF;
    EXCEPTION WHEN invalid_text_representation THEN
      RETURN 'it is not a valid IPv6 address';
    END;
    RETURN NULL;
  ELSIF pgautofailover.is_hba_keyword(value) THEN
    RETURN format('"%s" is a pg_hba.conf keyword', value);
  END IF;
  FOREACH label IN ARRAY string_to_array(value, '.') LOOP
    IF label = '' THEN
      RETURN 'it has an empty label (a leading, trailing or double dot)';
    ELSIF length(label) > 63 THEN
      RETURN format('its label "%s…" is longer than 63 characters', left(label, 16));
    ELSIF label !~ '^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$' THEN
      RETURN 'a host name has labels of letters, digits and inner hyphens only (RFC 1123)';
    END IF;
  END LOOP;
  IF label ~ '^[0-9]+$' THEN
    RETURN 'its last label is all digits, and it is not an IPv4 address';
  END IF;
  RETURN NULL;
END
$$;

-- Raises when `value` (the argument named `arg`) is not an IP literal or an RFC 1123 host name.
CREATE FUNCTION pgautofailover.check_hostname(arg text, value text) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  problem text := pgautofailover.hostname_problem(value);
BEGIN
  IF value IS NULL THEN
    RAISE EXCEPTION '% must not be NULL', arg USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF problem IS NOT NULL THEN
    RAISE EXCEPTION '% % is not a valid host: %', arg, pgautofailover.printable(value), problem
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'give an IPv4 or IPv6 address, or a host name of letters, digits, hyphens and dots (RFC 1123)';
  END IF;
END
$$;

-- Why `value` is not a safe name (NULL: it is one): node, formation, cluster and database names.
-- 1 to 63 characters, letters, digits, '_', '-' and '.', starting with a letter, a digit or '_',
-- and not a pg_hba.conf keyword.
CREATE FUNCTION pgautofailover.name_problem(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
           WHEN value = '' THEN 'it is empty'
           WHEN length(value) > 63 THEN format('it is %s characters long, at most 63 are allowed', length(value))
           WHEN value ~ '[[:cntrl:]]' THEN 'it contains a control character'
           WHEN value ~ '\s' THEN 'it contains white space'
           WHEN value !~ '^[A-Za-z0-9_][A-Za-z0-9_.-]*$'
             THEN 'a name has letters, digits, ''_'', ''-'' and ''.'' only, and starts with a letter, a digit or ''_'''
           WHEN pgautofailover.is_hba_keyword(value) THEN format('"%s" is a pg_hba.conf keyword', value)
         END
$$;

-- Raises when `value` (the argument named `arg`) is not a safe name.
CREATE FUNCTION pgautofailover.check_name(arg text, value text) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  problem text := pgautofailover.name_problem(value);
BEGIN
  IF value IS NULL THEN
    RAISE EXCEPTION '% must not be NULL', arg USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF problem IS NOT NULL THEN
    RAISE EXCEPTION '% % is not a valid name: %', arg, pgautofailover.printable(value), problem
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'use 1 to 63 letters, digits, ''_'', ''-'' or ''.''';
  END IF;
END
$$;

-- Raises when `value` is not a valid group id (pgsql formations have group 0 only; -1 = any).
CREATE FUNCTION pgautofailover.check_group(arg text, value bigint) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF value IS NOT NULL AND value NOT BETWEEN 0 AND 2147483647 THEN
    RAISE EXCEPTION 'invalid % %: a group id is 0 or more', arg, value USING ERRCODE = 'invalid_parameter_value';
  END IF;
END
$$;
