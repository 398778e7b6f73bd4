-- $1 paths, $2 sizes, $3 modification times (ns), $4 sha256: files hashed in this build
insert or replace into raw.landing_file_hashes
select
    unnest($1) as relative_path,
    unnest($2) as size_bytes,
    unnest($3) as modified_ns,
    unnest($4) as file_sha256;
