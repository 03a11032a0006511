package harness

// SupabaseRoles creates the roles of a Supabase project as Supabase's own
// setup does: anon and authenticated for clients, service_role with
// BYPASSRLS. Roles are cluster-wide and test databases share a cluster, so
// creating one that exists (also concurrently) is not an error.
const SupabaseRoles = `
DO $$
DECLARE r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
    BEGIN
      EXECUTE format('CREATE ROLE %I NOLOGIN NOINHERIT', r) || CASE WHEN r = 'service_role' THEN ' BYPASSRLS' ELSE '' END;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
  END LOOP;
END $$;`

// SupabaseSchema sets a database up as a Supabase project does for
// realtime: the roles, auth.uid() reading the JWT claims the way Supabase
// defines it, usage grants, and the supabase_realtime publication.
const SupabaseSchema = SupabaseRoles + SupabaseAuth + `
CREATE PUBLICATION supabase_realtime FOR ALL TABLES;`

// SupabaseAuth is the auth schema's functions that policies call, and the
// usage grants of a Supabase project.
const SupabaseAuth = `
CREATE SCHEMA auth;
CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''),
                  (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'))::uuid
$$;
CREATE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(current_setting('request.jwt.claim.role', true), ''),
                  (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role'))
$$;
GRANT USAGE ON SCHEMA auth, public TO anon, authenticated, service_role;`

// NotesSchema adds, on top of SupabaseSchema, the tables the
// authorization tests use:
//   - notes: RLS, each user reads their own rows (owner = auth.uid());
//     clients may not read the secret column; service_role reads it all;
//     REPLICA IDENTITY FULL, so a DELETE carries the whole old row.
//   - open: no RLS, every role reads it.
//   - private: no grant to anon or authenticated.
//   - nopk: no primary key.
//   - broken: RLS with a policy that raises an error.
const NotesSchema = SupabaseSchema + NotesTables

// NotesTables is NotesSchema without the Supabase setup.
const NotesTables = `
CREATE TABLE public.notes (id bigint PRIMARY KEY, owner uuid NOT NULL, body text, secret text);
ALTER TABLE public.notes REPLICA IDENTITY FULL;
ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_notes ON public.notes FOR SELECT TO authenticated USING (owner = auth.uid());
GRANT SELECT (id, owner, body) ON public.notes TO anon, authenticated;
GRANT SELECT ON public.notes TO service_role;
CREATE TABLE public.open (id bigint PRIMARY KEY, body text);
GRANT SELECT ON public.open TO anon, authenticated, service_role;
CREATE TABLE public.private (id bigint PRIMARY KEY, body text);
GRANT SELECT ON public.private TO service_role;
CREATE TABLE public.nopk (id bigint, body text);
ALTER TABLE public.nopk REPLICA IDENTITY FULL;
GRANT SELECT ON public.nopk TO anon, authenticated, service_role;
CREATE FUNCTION public.refuse() RETURNS boolean LANGUAGE plpgsql STABLE AS $$
BEGIN RAISE EXCEPTION 'this policy always fails'; END $$;
CREATE TABLE public.broken (id bigint PRIMARY KEY, body text);
ALTER TABLE public.broken ENABLE ROW LEVEL SECURITY;
CREATE POLICY refuses ON public.broken FOR SELECT TO authenticated USING (public.refuse());
GRANT SELECT ON public.broken TO anon, authenticated, service_role;`
