-- $1 organization, $2 path as recorded, $3 file sha256, $4 path to read
insert into landing_lines (
    organization_id, source_file, file_sha256, line_number, raw_line, received_at
)
select
    $1 as organization_id,
    $2 as source_file,
    $3 as file_sha256,
    lines.line_number,
    rtrim(lines.raw_line, chr(13)) as raw_line,
    null as received_at
from (
    select
        unnest(file_lines.split_lines) as raw_line,
        unnest(range(1, len(file_lines.split_lines) + 1)) as line_number
    from (select string_split(content, chr(10)) as split_lines from read_text($4)) as file_lines
) as lines
where trim(lines.raw_line) <> '';
