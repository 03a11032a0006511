package migrate

// migration is one step of the schema. Its SQL must be idempotent and must
// only create what is missing: a database set up by Supabase's server has
// most of these objects already, in versions this gateway must not replace.
type migration struct {
	version int64
	name    string
	sql     string
}

// ifRoles runs body for each of the Supabase API roles that exists, so the
// same migrations work on a Supabase project and on a plain PostgreSQL.
// body is a format string with one %I for the role name.
func ifRoles(body string) string {
	return `DO $do$
DECLARE r text;
BEGIN
  FOR r IN SELECT rolname FROM pg_roles WHERE rolname IN ('anon', 'authenticated', 'service_role') LOOP
    EXECUTE format(` + quoteLiteral(body) + `, r);
  END LOOP;
END
$do$;`
}

func quoteLiteral(s string) string {
	out := []byte{'\''}
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(append(out, '\''))
}

// when runs stmt only when cond (a boolean SQL expression) holds. DDL on
// an existing object checks ownership before IF NOT EXISTS is looked at,
// so statements on objects Supabase's server may own are guarded by it.
func when(cond, stmt string) string {
	return `DO $do$
BEGIN
  IF ` + cond + ` THEN
    EXECUTE ` + quoteLiteral(stmt) + `;
  END IF;
END
$do$;`
}

// ifNoFunction creates a function only when no function of that signature
// exists, so a version installed by Supabase's server is left alone.
func ifNoFunction(signature, create string) string {
	return `DO $do$
BEGIN
  IF to_regprocedure(` + quoteLiteral(signature) + `) IS NULL THEN
    EXECUTE ` + quoteLiteral(create) + `;
  END IF;
END
$do$;`
}

var migrations = []migration{
	{1, "messages table", when(`to_regclass('realtime.messages') IS NULL`, `
CREATE TABLE realtime.messages (
  topic       text NOT NULL,
  extension   text NOT NULL,
  payload     jsonb,
  event       text,
  private     boolean DEFAULT false,
  updated_at  timestamp without time zone NOT NULL DEFAULT timezone('utc', now()),
  inserted_at timestamp without time zone NOT NULL DEFAULT timezone('utc', now()),
  id          uuid NOT NULL DEFAULT gen_random_uuid(),
  CONSTRAINT messages_pkey PRIMARY KEY (id, inserted_at)
) PARTITION BY RANGE (inserted_at)`) + `
` + when(`NOT (SELECT relrowsecurity FROM pg_class WHERE oid = 'realtime.messages'::regclass)`,
		`ALTER TABLE realtime.messages ENABLE ROW LEVEL SECURITY`) + `
` + ifRoles(`DO $g$ BEGIN IF NOT has_schema_privilege(%1$L, 'realtime', 'USAGE') THEN GRANT USAGE ON SCHEMA realtime TO %1$I; END IF; END $g$`) + `
` + ifRoles(`DO $g$ BEGIN IF NOT (has_table_privilege(%1$L, 'realtime.messages', 'SELECT') AND has_table_privilege(%1$L, 'realtime.messages', 'INSERT') AND has_table_privilege(%1$L, 'realtime.messages', 'UPDATE')) THEN GRANT SELECT, INSERT, UPDATE ON realtime.messages TO %1$I; END IF; END $g$`)},

	// Replay reads a private topic's broadcasts by time; the same partial
	// index as Supabase's, under the same name, so it is found if present.
	{2, "messages replay index", when(`to_regclass('realtime.messages_inserted_at_topic_index') IS NULL`, `
CREATE INDEX messages_inserted_at_topic_index ON ONLY realtime.messages
  USING btree (inserted_at DESC, topic) WHERE extension = 'broadcast' AND private IS TRUE`)},

	{3, "topic function", ifNoFunction("realtime.topic()", `
CREATE FUNCTION realtime.topic() RETURNS text LANGUAGE sql STABLE AS $f$
  -- The channel topic an authorization check runs for, set by the gateway.
  SELECT nullif(current_setting('realtime.topic', true), '')::text;
$f$`)},

	// send never fails its caller's transaction: a trigger that broadcasts
	// must not undo the write it reports. Errors become a WARNING.
	{4, "send function", ifNoFunction("realtime.send(jsonb,text,text,boolean)", `
CREATE FUNCTION realtime.send(payload jsonb, event text, topic text, private boolean DEFAULT true)
RETURNS void LANGUAGE plpgsql AS $f$
DECLARE
  new_id uuid := gen_random_uuid();
  body jsonb := payload;
BEGIN
  BEGIN
    IF jsonb_typeof(body) = 'object' AND NOT body ? 'id' THEN
      body := body || jsonb_build_object('id', new_id);
    END IF;
    PERFORM set_config('realtime.topic', topic, true);
    INSERT INTO realtime.messages (id, payload, event, topic, private, extension)
    VALUES (new_id, body, event, topic, private, 'broadcast');
  EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'ErrorSendingBroadcastMessage: %', SQLERRM;
  END;
END
$f$`)},

	{5, "broadcast_changes function", ifNoFunction("realtime.broadcast_changes(text,text,text,text,text,record,record,text)", `
CREATE FUNCTION realtime.broadcast_changes(topic_name text, event_name text, operation text,
  table_name text, table_schema text, new record, old record, level text DEFAULT 'ROW')
RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
  IF level = 'STATEMENT' THEN
    RAISE EXCEPTION 'realtime.broadcast_changes works in FOR EACH ROW triggers only';
  END IF;
  IF operation NOT IN ('INSERT', 'UPDATE', 'DELETE') THEN
    RAISE EXCEPTION 'realtime.broadcast_changes: unexpected operation %', operation;
  END IF;
  PERFORM realtime.send(
    jsonb_build_object('old_record', old, 'record', new, 'operation', operation,
                       'table', table_name, 'schema', table_schema),
    event_name, topic_name);
END
$f$`)},

	// Binary broadcasts need a column for bytes; Supabase's newest schema
	// has the same one. Adding a nullable column rewrites no row.
	{6, "binary payloads", when(`NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'realtime.messages'::regclass AND attname = 'binary_payload' AND NOT attisdropped)`,
		`ALTER TABLE realtime.messages ADD COLUMN binary_payload bytea`) + `
` + ifNoFunction("realtime.send_binary(bytea,text,text,boolean)", `
CREATE FUNCTION realtime.send_binary(payload bytea, event text, topic text, private boolean DEFAULT true)
RETURNS void LANGUAGE plpgsql AS $f$
DECLARE
  new_id uuid := gen_random_uuid();
BEGIN
  BEGIN
    PERFORM set_config('realtime.topic', topic, true);
    INSERT INTO realtime.messages (id, binary_payload, event, topic, private, extension)
    VALUES (new_id, payload, event, topic, private, 'broadcast');
  EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'ErrorSendingBroadcastMessage: %', SQLERRM;
  END;
END
$f$`)},

	// publish_via_partition_root makes every day's partition arrive as
	// realtime.messages; a publication Supabase's server made without it is
	// kept, and the hub knows partitions by name too.
	{7, "messages publication", `
DO $do$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'supabase_realtime_messages_publication') THEN
    CREATE PUBLICATION supabase_realtime_messages_publication FOR TABLE realtime.messages
      WITH (publish_via_partition_root = true);
  END IF;
END
$do$;`},

	// A broadcast the gateway delivered itself and stores for replay
	// (persist) must not come back through the replication stream; the
	// same column as Supabase's newest schema says so.
	{8, "skip_broadcast", when(`NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'realtime.messages'::regclass AND attname = 'skip_broadcast' AND NOT attisdropped)`,
		`ALTER TABLE realtime.messages ADD COLUMN skip_broadcast boolean NOT NULL DEFAULT false`)},
}
